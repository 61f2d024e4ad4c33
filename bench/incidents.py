"""Incident benchmark: logloom's incidents scored against the simulator's ground truth.

``logloom simulate`` writes a baseline shift that ``logloom record`` learns, then shifts
with injected problems (random slow or fast dispensings, stuck visits of every
station, dispenser faults and a drift) and ``--consequences``, so its truth lists
every row an injection changed, directly (spike, stuck, fault, drift) or as a knock-on
(consequence); and a clean shift of at least 8 hours. ``monitor`` runs in this process
with an observer that records which incident each anomaly joined. Prints, per
problem shift and over all of them:

* coverage: injected problems with a row in an incident (every anomaly is in one);
  and how many of them spread over more than one incident;
* incidents per injected problem: all incidents of the shift / problems injected;
* knock-on rows attached to their cause: flagged consequence rows in an incident
  that holds an injected problem (as its effect, or on the cause's own component);
* injected problems attached to another problem's incident as an effect (buried);

and for the clean shift the incidents per hour per component (every one is false).

    .venv/bin/python bench/incidents.py [--seeds 1 2 3] [--cycles 3000] [--keep DIR]
    .venv/bin/python bench/detection.py --mode incidents      (the same)
"""

from __future__ import annotations

import argparse
import bisect
import csv
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from logloom.cli import main as cli_main
from logloom.config.load import load_config
from logloom.main import monitor
from logloom.records import Anomaly, Incident, Observer
from logloom.run import RunOptions
from logloom.ui import UI

ROOT = Path(__file__).resolve().parents[1]
EPOCH = datetime(1970, 1, 1)
Key = tuple[str, str, str]  # (timestamp, component, metric) as the CSVs write them
# stuck injections in turn: every scalable state of the bundled line
STUCK = ("l1_clamp.CLOSED@{}x4", "l2_dispenser.DISPENSING@{}x3", "conv_transfer.MOVING@{}x6",
         "l1_dispenser.UNCLAMPING@{}x8", "conv_in.MOVING@{}x6", "l2_clamp.CLOSED@{}x4",
         "l1_dispenser.READY_TO_DISPENSE@{}x10", "l2_dispenser.UNCLAMPING@{}x8")


def cli(*args: str | Path) -> None:
    assert cli_main([str(a) for a in args]) == 0, args


class Recorder(Observer):
    """Which incident each anomaly joined, and every incident's last state."""

    def __init__(self) -> None:
        self.joined: list[tuple[Anomaly, int]] = []
        self.incidents: dict[int, Incident] = {}

    def on_incident(self, change: str, incident: Incident, anomaly: Anomaly | None) -> None:
        self.incidents[incident.id] = incident
        if anomaly is not None:
            self.joined.append((anomaly, incident.id))


def run_monitor(config: Path, recorded: Path, log: Path, data: Path) -> Recorder:
    data.mkdir(parents=True)
    (data / "process_baseline.json").write_bytes((recorded / "process_baseline.json").read_bytes())
    rec = Recorder()
    options = RunOptions(data_dir=data, logs=[log], quiet=True, observers=[rec])
    monitor(load_config(config), options, UI(quiet=True))
    return rec


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def fmt(ts: int) -> str:
    """A log time as the CSVs write it (naive: the simulator's times have no zone)."""
    return (EPOCH + timedelta(microseconds=ts)).isoformat()


@dataclass
class Problem:
    kind: str
    component: str
    keys: list[Key] = field(default_factory=list)


def problems_of(truth: Iterable[dict[str, str]]) -> tuple[list[Problem], set[Key]]:
    """Injected problems (a spike or stuck visit, a fault episode, a whole drift) and the
    keys of the consequence rows."""
    out: list[Problem] = []
    drifts: dict[tuple[str, str], Problem] = {}
    faults: dict[str, Problem] = {}
    consequences: set[Key] = set()
    for t in truth:
        key = (t["timestamp"], t["component_id"], t["metric_name"])
        kind = t["kind"]
        if kind == "consequence":
            consequences.add(key)
        elif kind == "drift":
            if (t["component_id"], t["metric_name"]) not in drifts:
                drifts[t["component_id"], t["metric_name"]] = Problem("drift", t["component_id"])
                out.append(drifts[t["component_id"], t["metric_name"]])
            drifts[t["component_id"], t["metric_name"]].keys.append(key)
        elif kind == "fault":
            open_fault = faults.get(t["component_id"])
            if open_fault is None:
                open_fault = faults[t["component_id"]] = Problem("fault", t["component_id"])
                out.append(open_fault)
            open_fault.keys.append(key)
            if t["factor"] == "":  # the downtime row ends the episode
                del faults[t["component_id"]]
        else:
            out.append(Problem(kind, t["component_id"], [key]))
    # a spike on a row the drift also scales is part of the drift (x0.45 of a row drifted x2.2)
    drifting = {k for p in drifts.values() for k in p.keys}
    return [p for p in out if p.kind != "spike" or p.keys[0] not in drifting], consequences


def visit_key(truth_rows: list[dict[str, str]]):  # type: ignore[no-untyped-def]
    """An anomaly -> the truth key of its visit: a stuck or fault row (written while the
    visit lasts, or when it began) to the next row of its metric, any other to itself."""
    times: dict[tuple[str, str], list[str]] = defaultdict(list)
    for r in truth_rows:
        times[r["component_id"], r["metric_name"]].append(r["timestamp"])
    for series in times.values():
        series.sort()

    def key(a: Anomaly) -> Key:
        stamp = fmt(a.ts)
        if a.rule in ("stuck", "fault"):
            series = times.get((a.component_id, a.metric_name), [])
            i = bisect.bisect_left(series, stamp)
            stamp = series[i] if i < len(series) else stamp
        return (stamp, a.component_id, a.metric_name)

    return key


@dataclass
class Score:
    problems: int = 0
    covered: int = 0
    split: int = 0
    buried: int = 0
    incidents: int = 0
    explained_incidents: int = 0
    knock_on_flagged: int = 0
    knock_on_attached: int = 0
    knock_on_opened: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    missed: Counter[str] = field(default_factory=Counter)

    def add(self, other: Score) -> None:
        for name in ("problems", "covered", "split", "buried", "incidents", "explained_incidents",
                     "knock_on_flagged", "knock_on_attached", "knock_on_opened"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.kinds.update(other.kinds)
        self.missed.update(other.missed)

    def report(self, title: str) -> None:
        print(f"{title}:")
        print(f"  injected problems {self.problems} ({dict(self.kinds)}); in an incident "
              f"{self.covered / max(1, self.problems):.3f} (missed: {dict(self.missed) or 0}); "
              f"in more than one incident: {self.split}; attached to another problem's incident: {self.buried}")
        print(f"  incidents {self.incidents}: {self.incidents / max(1, self.problems):.2f} per injected problem "
              f"({self.explained_incidents} of them hold an injected problem or its knock-on)")
        print(f"  knock-on rows flagged {self.knock_on_flagged}: attached to their cause "
              f"{self.knock_on_attached / max(1, self.knock_on_flagged):.3f}; opened an incident of their own: "
              f"{self.knock_on_opened}")


def score(log: Path, rec: Recorder) -> Score:
    truth_rows = read_csv(Path(f"{log}.truth.csv"))
    problems, consequences = problems_of(read_csv(Path(f"{log}.anomalies.csv")))
    key = visit_key(truth_rows)
    incident_of: dict[Key, set[int]] = defaultdict(set)
    first: dict[int, Key] = {}
    for a, iid in rec.joined:
        k = key(a)
        incident_of[k].add(iid)
        first.setdefault(iid, k)
    s = Score(problems=len(problems), incidents=len(rec.incidents))
    owner: dict[int, Problem] = {}  # incident -> the problem whose row opened it or is its cause's
    for p in problems:
        s.kinds[p.kind] += 1
        held = set().union(*(incident_of.get(k, set()) for k in p.keys))
        if not held:
            s.missed[p.kind] += 1
            continue
        s.covered += 1
        s.split += len(held) > 1
        for iid in held:
            if rec.incidents[iid].component_id == p.component:
                owner.setdefault(iid, p)
    for p in problems:
        held = set().union(*(incident_of.get(k, set()) for k in p.keys))
        s.buried += bool(held) and all(rec.incidents[i].component_id != p.component and owner.get(i) is not p
                                       and i in owner for i in held)
    problem_keys = {k for p in problems for k in p.keys}
    with_problem = {i for k in problem_keys for i in incident_of.get(k, ())}
    for k in consequences:
        if k in incident_of and k not in problem_keys:
            s.knock_on_flagged += 1
            s.knock_on_attached += bool(incident_of[k] & with_problem)
            s.knock_on_opened += any(first[i] == k and i not in with_problem for i in incident_of[k])
    explained = problem_keys | consequences
    s.explained_incidents = sum(1 for i in rec.incidents if any(first[i] == k or i in incident_of.get(k, ())
                                                                for k in explained if k in incident_of))
    return s


def problem_specs(cycles: int, seed: int) -> list[str]:
    specs = ["random-spikes:process_cycle_time:0.01"]
    for n, cycle in enumerate(range(120, cycles - 500, 260)):
        specs.append("stuck:" + STUCK[(n + seed) % len(STUCK)].format(cycle))
    for n, cycle in enumerate(range(250, cycles - 500, 400)):
        specs.append(f"fault:{('l1_dispenser', 'l2_dispenser')[(n + seed) % 2]}@{cycle}")
    specs.append(f"drift:{('l1_dispenser', 'l2_dispenser')[seed % 2]}.process_cycle_time@{cycles - 400}+0.004")
    return specs


def clean_shift(config: Path, recorded: Path, work: Path, seed: int) -> None:
    log = work / "clean.log"
    cli("simulate", "--config", config, "--out", log, "--cycles", 1100, "--seed", seed, "--quiet")
    rec = run_monitor(config, recorded, log, work / "clean")
    rows = read_csv(Path(f"{log}.truth.csv"))
    stamps = [datetime.fromisoformat(r["timestamp"]) for r in (rows[0], rows[-1])]
    hours = (stamps[1] - stamps[0]).total_seconds() / 3600
    components = len({r["component_id"] for r in rows})
    n = len(rec.incidents)
    by_component = Counter(i.component_id for i in rec.incidents.values())
    print(f"\nclean shift ({hours:.2f} h, {len(rows)} rows, {components} components, seed {seed}):")
    print(f"  false incidents {n}: {n / hours / components:.3f} per hour per component, "
          f"{1000 * n / len(rows):.3f} per 1000 rows; worst component "
          f"{by_component.most_common(1)[0] if by_component else '-'}; "
          f"kinds {dict(Counter(i.kind for i in rec.incidents.values()))}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--cycles", type=int, default=3000, help="pallets per problem shift")
    ap.add_argument("--base-cycles", type=int, default=2000)
    ap.add_argument("--keep", type=Path, help="work in this directory and keep it")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="logloom-incidents-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        config = ROOT / "config"
        recorded = work / "recorded"
        cli("simulate", "--config", config, "--out", work / "base.log", "--cycles", args.base_cycles,
            "--seed", 100, "--quiet")
        cli("record", "--config", config, "--logs", work / "base.log", "--data", recorded, "--quiet")
        total = Score()
        for seed in args.seeds:
            log = work / f"problems{seed}.log"
            specs = problem_specs(args.cycles, seed)
            cli("simulate", "--config", config, "--out", log, "--cycles", args.cycles, "--seed", seed,
                "--start", "2026-01-22T06:00:00", "--quiet", "--consequences", "--anomalies", ",".join(specs))
            s = score(log, run_monitor(config, recorded, log, work / f"problems{seed}"))
            s.report(f"\nproblem shift, seed {seed} ({args.cycles} cycles)")
            total.add(s)
        total.report(f"\nall {len(args.seeds)} problem shifts")
        clean_shift(config, recorded, work, args.seeds[0] + 50)


if __name__ == "__main__":
    main()
