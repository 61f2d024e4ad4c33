"""--prometheus: /metrics scraped over HTTP while monitor follows a growing log.

Every value is checked against what the run wrote itself: the metrics and anomaly
files and the checkpoint while it runs, run_summary.json once it has stopped.
"""

from __future__ import annotations

import csv
import json
import re
import socket
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from logloom.config.load import load_config
from tests.helpers import EXAMPLE_CONFIG, ROOT, read_rows
from tests.integrations.live import FollowRun, scrape, wait_for
from tests.test_durability import record_into, simulate

Scrape = dict[tuple[str, frozenset[tuple[str, str]]], float]
ISO = re.compile(rb"^(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?)", re.M)
UNIT_S = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0}


def value(m: Scrape, name: str, **labels: str) -> float:
    return m[name, frozenset(labels.items())]


def samples(m: Scrape, name: str) -> list[tuple[dict[str, str], float]]:
    return [(dict(labels), v) for (n, labels), v in m.items() if n == name]


def halves(content: bytes) -> tuple[bytes, bytes]:
    cut = content.index(b"\n", len(content) // 2) + 1
    return content[:cut], content[cut:]


def metric_kinds(config_dir: Path) -> dict[tuple[str, str], tuple[str, str]]:
    """(component, metric) -> (type, unit) from the config, the way a user reads it."""
    config = load_config(config_dir)
    out = {}
    for comp in config.graph.components:
        machine = config.logic.machines[comp.type]
        for state in machine.states:
            for metric in machine.metrics_of(state):
                out[comp.id, metric.name] = (metric.type, metric.resolved_unit)
    return out


def check_histograms(m: Scrape, data: Path, kinds: dict[tuple[str, str], tuple[str, str]]) -> None:
    """Per metric: count, sum, every bucket and the latest value, recomputed from process_metrics.csv."""
    rows = read_rows(data / "process_metrics.csv")
    assert value(m, "logloom_rows_written_total") == len(rows)
    series: dict[tuple[str, str], list[float]] = defaultdict(list)
    for _, comp, metric, val, _unit, context in rows:
        if not context.endswith(":inferred"):
            series[comp, metric].append(float(val))
    assert series, "the log made no rows"
    for (comp, metric), (kind, unit) in kinds.items():
        values = series.get((comp, metric), [])
        if kind == "duration":
            name, labels = "logloom_duration_seconds", {"component": comp, "metric": metric}
            values = [v * UNIT_S[unit] for v in values]
            last_name = "logloom_last_duration_seconds"
        else:
            name, labels = "logloom_value", {"component": comp, "metric": metric, "unit": unit}
            last_name = "logloom_last_value"
        buckets = [(float(lab["le"]), v) for lab, v in samples(m, f"{name}_bucket")
                   if all(lab[k] == labels[k] for k in labels)]
        assert len(buckets) >= 5 and (float("inf"), len(values)) in buckets
        assert min(buckets)[0] >= 0  # else Prometheus drops _sum and _count: none of these is ever negative
        assert value(m, f"{name}_count", **labels) == len(values), (comp, metric)
        assert value(m, f"{name}_sum", **labels) == pytest.approx(sum(values), rel=1e-9, abs=1e-9)
        for le, count in buckets:
            assert count == sum(1 for v in values if v <= le), (comp, metric, le)
        if values:
            assert value(m, last_name, **labels) == pytest.approx(values[-1])


def check_states(m: Scrape, data: Path, newest: float) -> None:
    """The state gauges and time in state against the checkpoint written at the same line."""
    saved = json.loads((data / "machine_state.json").read_text())["engine"]["components"]
    for comp in saved:
        states = samples(m, "logloom_state")
        mine = {lab["state"]: v for lab, v in states if lab["component"] == comp["id"]}
        assert mine[comp["state"]] == 1.0 and sum(mine.values()) == 1.0, comp["id"]
        if comp["entered"] is not None:
            got = value(m, "logloom_time_in_state_seconds", component=comp["id"], state=comp["state"])
            assert got == pytest.approx(newest - comp["entered"] / 1e6, abs=1e-6)


def newest_iso(content: bytes) -> float:
    """The latest timestamp of an ISO log, its naive reading counted as UTC (as the log's times are)."""
    stamps = [datetime.fromisoformat(t.decode()) for t in ISO.findall(content)]
    return max(stamps).replace(tzinfo=UTC).timestamp()


def test_scrape_during_follow_matches_the_files_and_run_summary(tmp_path: Path, run_cli) -> None:
    good = simulate(run_cli, tmp_path / "good.log", "--cycles", "120", "--seed", "5")
    source = simulate(run_cli, tmp_path / "src.log", "--cycles", "70", "--seed", "6", "--drop", "0.03",
                      "--garbage", "0.01", "--anomalies",
                      "spike:l1_dispenser.process_cycle_time@20x2.5,stuck:l1_clamp.CLOSED@45x15")
    data = tmp_path / "data"
    record_into(run_cli, good, tmp_path / "baseline", data)
    baseline = json.loads((data / "process_baseline.json").read_text())["metrics"]
    kinds = metric_kinds(EXAMPLE_CONFIG)
    a, b = halves(source.read_bytes())
    log = tmp_path / "live.log"
    log.write_bytes(b"")
    with FollowRun(tmp_path, EXAMPLE_CONFIG, data, log, "--prometheus", "127.0.0.1:0") as run:
        url = run.wait_stderr(r"serving (http://127\.0\.0\.1:\d+/metrics)").group(1)
        # the server listens before the run has loaded its state: poll until the states show
        first_state = ("logloom_state", frozenset({("component", "l1_clamp"), ("state", "OPEN")}))
        before = wait_for(lambda: s if first_state in (s := scrape(url)) else None, "the run's first states")
        assert value(before, "logloom_lines_read_total") == 0
        assert value(before, "logloom_state", component="l1_clamp", state="OPEN") == 1.0
        for chunk, upto in ((a, a), (b, a + b)):
            run.append(chunk)
            run.wait_offset(len(upto))  # processed, flushed and checkpointed
            m = wait_for(lambda upto=upto: (s := scrape(url))["logloom_lines_read_total", frozenset()]
                         == upto.count(b"\n") and s, "the scrape to count every line")
            check_histograms(m, data, kinds)
            newest = newest_iso(upto)
            assert value(m, "logloom_last_log_timestamp_seconds") == pytest.approx(newest, abs=1e-6)
            check_states(m, data, newest)
        local_now = (datetime.now() - datetime(1970, 1, 1)).total_seconds()  # the log's naive clock
        assert value(m, "logloom_log_lag_seconds") == pytest.approx(local_now - newest, abs=30)
        assert run.stop() == 0
    summary = json.loads((data / "run_summary.json").read_text())
    for key, name in (("lines_read", "logloom_lines_read_total"), ("events", "logloom_events_total"),
                      ("unmatched", "logloom_unmatched_lines_total"), ("rows_written", "logloom_rows_written_total"),
                      ("malformed", "logloom_malformed_lines_total")):
        assert value(m, name) == summary[key], key
    assert summary["malformed"] > 0 and summary["anomalies"] > 0
    for reason in ("unknown_target", "unrouted"):
        assert value(m, "logloom_dropped_events_total", reason=reason) == summary[reason]
    for cid, counters in summary["components"].items():
        assert value(m, "logloom_component_events_total", component=cid) == counters["events"]
        observed = value(m, "logloom_transitions_total", component=cid, kind="observed")
        inferred = value(m, "logloom_transitions_total", component=cid, kind="inferred")
        assert (observed + inferred, inferred) == (counters["transitions"], counters["inferred_steps"])
        assert value(m, "logloom_jumps_total", component=cid) == counters["jumps"]
        assert value(m, "logloom_data_only_events_total", component=cid) == counters["data_only"]
        for kind in ("invalid_transition", "guard_blocked"):
            assert value(m, "logloom_violations_total", component=cid, kind=kind) == counters[kind]
        for reason in ("missing_value", "negative_duration"):
            assert value(m, "logloom_skipped_rows_total", component=cid, reason=reason) == counters[reason]
    assert sum(v for _, v in samples(m, "logloom_jumps_total")) > 0  # --drop made some
    # anomalies by rule, against anomalies.csv
    written = Counter((r[1], r[2], r[10]) for r in read_rows(data / "anomalies.csv"))
    exposed = {(lab["component"], lab["metric"], lab["rule"]): v for lab, v in samples(m, "logloom_anomalies_total")}
    assert exposed == written and sum(written.values()) == summary["anomalies"]
    # incidents by kind, and those still open, against incidents.csv
    incidents = list(csv.DictReader((data / "incidents.csv").open()))
    opened: Counter[str] = Counter()  # by the kind each opened as (a stuck visit may end up lost_lines)
    for lab, v in samples(m, "logloom_incidents_total"):
        opened[lab["component"]] += int(v)
    assert incidents and opened == Counter(r["component_id"] for r in incidents)
    still_open = Counter(r["component_id"] for r in incidents if not r["closed"])
    assert {lab["component"]: v for lab, v in samples(m, "logloom_open_incidents") if v} == still_open
    # buckets from the active baseline's limits, which are also exposed for dashboards
    learned = baseline["l1_dispenser"]["process_cycle_time"]
    edges = {float(lab["le"]) for lab, _ in samples(m, "logloom_duration_seconds_bucket")
             if lab["component"] == "l1_dispenser" and lab["metric"] == "process_cycle_time"}
    assert {round(learned["lower"], 9), round(learned["upper"], 9), round(learned["median"], 9)} <= edges
    for bound in ("lower", "upper"):
        assert value(m, "logloom_duration_limit_seconds", component="l1_dispenser", metric="process_cycle_time",
                     bound=bound) == pytest.approx(learned[bound])


def _screw_lines(start: datetime, cycles: int) -> bytes:
    """A screwdriver's German log in Berlin local time: part, start, torques, maybe rework, done."""
    out, t = [], start
    for i in range(cycles):
        steps = [(1.0, "Teil erkannt"), (0.5, "Start"), (1.2, f"Drehmoment {2.0 + (i % 7) * 0.1:.1f} Nm"),
                 (0.3, f"Drehmoment {2.4 + (i % 5) * 0.05:.2f} Nm")]
        if i % 4 == 0:
            steps.append((0.2, "Nacharbeit"))
        steps += [(0.25 + (i % 3) * 0.125, "fertig"), (0.0, "Kalibrierung ok")]
        for gap, text in steps:
            t += timedelta(seconds=gap)
            out.append(f"{t:%d.%m.%Y %H:%M:%S},{t.microsecond // 1000:03d} SD-01 {text}\n")
    return "".join(out).encode()


def test_other_log_units_and_real_instants(tmp_path: Path, make_config) -> None:
    """Berlin local times (instants), a duration in ms, torques in Nm, a count, no baseline."""

    def edit(docs: dict) -> None:
        fastening = docs["process_logic.yaml"]["machines"]["screwdriver"]["states"]["FASTENING"]
        fastening["metrics"][0]["unit"] = "ms"

    config = make_config(ROOT / "examples" / "screwdriver_berlin" / "config", edit=edit)
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime.now(berlin).replace(tzinfo=None) - timedelta(minutes=20)
    content = _screw_lines(start, 150)
    data, log = tmp_path / "data", tmp_path / "screw.log"
    log.write_bytes(b"")
    with FollowRun(tmp_path, config, data, log, "--prometheus", "0") as run:
        url = run.wait_stderr(r"serving (http://127\.0\.0\.1:\d+/metrics)").group(1)
        run.append(content)
        run.wait_offset(len(content))
        m = wait_for(lambda: (s := scrape(url))["logloom_lines_read_total", frozenset()] == content.count(b"\n")
                     and s, "every line counted")
        check_histograms(m, data, metric_kinds(config))
        last_local = datetime.strptime(content.splitlines()[-1][:23].decode(), "%d.%m.%Y %H:%M:%S,%f")
        instant = last_local.replace(tzinfo=berlin).timestamp()
        assert value(m, "logloom_last_log_timestamp_seconds") == pytest.approx(instant, abs=1e-3)
        assert value(m, "logloom_log_lag_seconds") == pytest.approx(time.time() - instant, abs=30)
        rework = value(m, "logloom_value_count", component="sd1", metric="rework", unit="count")
        assert rework == 150 and value(m, "logloom_value_sum", component="sd1", metric="rework", unit="count") == 38
        assert value(m, "logloom_unmatched_lines_total") == 150  # the calibration lines
        assert run.stop() == 0


def _walkthrough(tmp_path: Path) -> tuple[Path, Path]:
    return ROOT / "examples" / "walkthrough" / "config", ROOT / "examples" / "walkthrough" / "input.log"


def test_address_problems_exit_2_and_an_open_bind_warns(tmp_path: Path, run_cli) -> None:
    config, log = _walkthrough(tmp_path)
    base = ["monitor", "--config", config, "--logs", log, "-q"]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = run_cli(*base, "--data", tmp_path / "d1", "--prometheus", str(port))
    assert code == 2 and f"--prometheus {port}: cannot listen there" in err and "Traceback" not in err
    code, _, err = run_cli(*base, "--data", tmp_path / "d2", "--prometheus", "localhost:http")
    assert code == 2 and "give [HOST:]PORT" in err
    code, _, err = run_cli(*base, "--data", tmp_path / "d3", "--prometheus", "0.0.0.0:0")
    assert code == 0 and "no authentication" in err
    code, _, err = run_cli(*base, "--data", tmp_path / "d4", "--prometheus", "127.0.0.1:0")
    assert code == 0 and "no authentication" not in err
    from prometheus_client import REGISTRY  # each run has a registry of its own: nothing leaks here

    assert not [f.name for f in REGISTRY.collect() if f.name.startswith("logloom")]


def test_without_the_extra_the_option_names_the_install_command(tmp_path: Path, run_cli,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    config, log = _walkthrough(tmp_path)
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # import prometheus_client now fails
    code, _, err = run_cli("monitor", "--config", config, "--data", tmp_path / "d", "--logs", log,
                           "--prometheus", "0")
    assert code == 2 and "pip install 'logloom[prometheus]'" in err
