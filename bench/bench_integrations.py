"""What --prometheus and --mqtt cost ``monitor`` on a large log (issue #18: at most 10 %).

Runs ``logloom monitor LOG`` as its own process with a fresh --data dir (the active
baseline of --baseline-from copied in when given, so rows are also scored):

- plain;
- ``--prometheus 127.0.0.1:0``, scraped over HTTP every ``--scrape-every`` seconds
  while it runs (each scrape checked to parse);
- ``--mqtt`` to a mosquitto this script starts on an ephemeral 127.0.0.1 port;
- ``--mqtt`` to a port where no broker listens (everything buffered, then dropped);
- both options together.

Each is measured as CPU seconds (user + sys of the process and its parse worker,
from wait4: the machine is shared, so wall time is noisy) and as the run's own
``lines_per_second`` (run_summary.json: the loop, without start-up or the MQTT
close). The cost of an option is ``1 - throughput with it / throughput without``,
best of ``--repeat`` runs each; the budget is checked on CPU seconds (the loop's
lines per second are shown too, but on a shared machine they vary by half). Every
run's metrics must equal the plain run's byte for byte (an integration never
changes the files).

``--hooks`` measures the observers' share of the processing thread alone, which
load on a shared machine blurs much less: one in-process run records the stream
the observers get (state changes, anomalies, blocks), which is then fed to each
observer on its own (the MQTT publisher without its thread, the Prometheus figures
without the server), best of ``--repeat``, against the processing thread's CPU
time of a plain serial run (best of ``--repeat``). The engine's side of an MQTT
run (a StateChange built per change, for any observer of state changes) is timed
per change with timeit.

    .venv/bin/logloom simulate --out bench/out/sim_1000000.log --lines 1000000 --seed 1
    .venv/bin/python bench/bench_integrations.py bench/out/sim_1000000.log [--repeat 3] [--hooks]
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LOGLOOM = str(Path(sys.executable).with_name("logloom"))
BUDGET = 0.10
SUMMARY = re.compile(r"mqtt: (\d+) messages published, (\d+) dropped")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_broker(work: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    conf = work / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nuser root\n"
                    f"log_dest file {work / 'broker.log'}\n")
    proc = subprocess.Popen([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(conf)])
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc, port
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError("mosquitto did not start") from None
            time.sleep(0.05)


def scraper(err_path: Path, every: float, stop: threading.Event, count: list[int]) -> None:
    """Scrape /metrics as Prometheus would, once the run says where it listens."""
    from prometheus_client.parser import text_string_to_metric_families

    url = None
    while not stop.is_set():
        if url is None:
            found = re.search(r"serving (http://\S+/metrics)", err_path.read_text(errors="replace"))
            url = found.group(1) if found else None
        if url is not None:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    list(text_string_to_metric_families(response.read().decode()))
                count[0] += 1
            except OSError:
                pass  # the run has just ended
        stop.wait(every if url else 0.01)


def run(log: Path, work: Path, baseline: Path | None, extra: list[str], scrape_every: float) -> dict[str, float]:
    data = work / "data"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    if baseline is not None:
        shutil.copy(baseline, data / "process_baseline.json")
    err_path = work / "stderr.txt"
    stop, scrapes = threading.Event(), [0]
    with err_path.open("wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen([LOGLOOM, "monitor", "--config", str(ROOT / "config"), "--data", str(data),
                                 "--logs", str(log), *extra], stdout=subprocess.DEVNULL, stderr=err)
        thread = None
        if any(a == "--prometheus" for a in extra):
            thread = threading.Thread(target=scraper, args=(err_path, scrape_every, stop, scrapes), daemon=True)
            thread.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        stop.set()
        if thread is not None:
            thread.join()
    text = err_path.read_text(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"monitor {' '.join(extra)} failed:\n{text[-2000:]}")
    summary = json.loads((data / "run_summary.json").read_text())
    mqtt = SUMMARY.search(text)
    return {"cpu": usage.ru_utime + usage.ru_stime, "wall": wall, "lines": summary["lines_read"],
            "loop_lps": summary["lines_per_second"], "scrapes": scrapes[0],
            "published": int(mqtt.group(1)) if mqtt else -1, "dropped": int(mqtt.group(2)) if mqtt else -1}


def hooks(log: Path, work: Path, repeat: int) -> None:
    """The observers' cost on the processing thread, fed a recorded stream (see the docstring)."""
    import timeit
    from types import SimpleNamespace

    from logloom.config.load import load_config
    from logloom.integrations.live_metrics import LiveMetrics
    from logloom.integrations.mqtt import MqttPublisher, MqttTarget
    from logloom.main import RunOptions, monitor
    from logloom.records import Observer, Progress, StateChange
    from logloom.ui import UI

    config = load_config(ROOT / "config")
    stream: list[tuple[str, Any]] = []

    class Recorder(Observer):
        def on_state_change(self, change: StateChange) -> None:
            stream.append(("change", change))

        def on_anomaly(self, anomaly: Any) -> None:
            stream.append(("anomaly", anomaly))

        def on_block(self, progress: Progress) -> None:
            stream.append(("block", progress))

    def serial(observers: list[Observer]) -> float:
        shutil.rmtree(work / "hooks", ignore_errors=True)
        options = RunOptions(data_dir=work / "hooks", logs=[log], quiet=True, parallel=False, observers=observers)
        start = time.thread_time()
        monitor(config, options, UI(quiet=True))
        return time.thread_time() - start

    plain = min(serial([]) for _ in range(repeat))
    serial([Recorder()])
    changes = sum(1 for kind, _ in stream if kind == "change")
    rows = sum(len(p.rows) for kind, p in stream if kind == "block")

    def feed(observer: Observer) -> float:
        calls = {"change": observer.on_state_change, "anomaly": observer.on_anomaly, "block": observer.on_block}
        start = time.thread_time()
        for kind, record in stream:
            calls[kind](record)
        return time.thread_time() - start

    def publisher() -> Observer:
        pub = MqttPublisher(config, MqttTarget("127.0.0.1", 1, "bench", False), SimpleNamespace(), 10_000, 500.0,
                            print, print)
        return pub  # never started: its hooks only

    append: list[Any] = []
    made = min(timeit.repeat(lambda: append.append(tuple.__new__(StateChange, (1, "c", "A", "B", "E", False))),
                             number=100_000, repeat=5)) / 100_000
    engine_side = made * changes
    live = min(feed(LiveMetrics(config, None)) for _ in range(repeat))
    mqtt = min(feed(publisher()) for _ in range(repeat))
    print(f"{log.name}: processing thread {plain:.2f} s CPU (serial, best of {repeat}); {changes:,} state changes, "
          f"{rows:,} rows, {sum(1 for k, _ in stream if k == 'block'):,} blocks")
    print(f"  --prometheus figures (LiveMetrics.on_block): {live:.3f} s = {live / plain:.1%}")
    print(f"  --mqtt hooks (list.append, hand-off per block): {mqtt:.3f} s = {mqtt / plain:.1%}; "
          f"engine side {made * 1e9:.0f} ns a change = {engine_side:.3f} s = {engine_side / plain:.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("log", type=Path)
    parser.add_argument("--baseline-from", type=Path, help="a clean log to record the active baseline from")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scrape-every", type=float, default=1.0)
    parser.add_argument("--hooks", action="store_true", help="only the observers' share of the processing thread")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="logloom-bench-integrations-"))
    if args.hooks:
        try:
            hooks(args.log, work, args.repeat)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return
    broker, port = start_broker(work)
    try:
        baseline = None
        if args.baseline_from is not None:
            subprocess.run([LOGLOOM, "record", "--config", str(ROOT / "config"), "--data", str(work / "rec"),
                            "--logs", str(args.baseline_from), "-q"], check=True)
            baseline = work / "rec" / "process_baseline.json"
        dead = free_port()  # nothing listens there
        variants = {
            "plain": [],
            "--prometheus": ["--prometheus", "127.0.0.1:0"],
            "--mqtt (broker up)": ["--mqtt", f"mqtt://127.0.0.1:{port}/bench"],
            "--mqtt (broker down)": ["--mqtt", f"mqtt://127.0.0.1:{dead}/bench"],
            "both": ["--prometheus", "127.0.0.1:0", "--mqtt", f"mqtt://127.0.0.1:{port}/bench"],
        }
        best: dict[str, dict[str, float]] = {}
        reference = work / "reference.csv"
        for _ in range(args.repeat):  # interleaved, so load on the shared machine hits every variant alike
            for name, extra in variants.items():
                result = run(args.log, work, baseline, extra, args.scrape_every)
                metrics = work / "data" / "process_metrics.csv"
                if name == "plain" and not reference.exists():
                    shutil.copy(metrics, reference)
                elif not filecmp.cmp(metrics, reference, shallow=False):
                    raise RuntimeError(f"{name}: the metrics differ from the plain run's")
                old = best.get(name)
                if old is None or result["cpu"] < old["cpu"]:
                    best[name] = {**result, "loop_lps": max(result["loop_lps"], old["loop_lps"] if old else 0)}
                elif result["loop_lps"] > old["loop_lps"]:
                    old["loop_lps"] = result["loop_lps"]
        plain = best["plain"]
        print(f"{args.log.name}: {plain['lines']:,.0f} lines, best of {args.repeat}, "
              f"{'scored' if baseline else 'unscored'}; budget: {BUDGET:.0%} of the throughput")
        print(f"{'variant':<22}{'CPU s':>8}{'lines/CPU s':>13}{'cost':>8}{'loop lines/s':>14}{'cost':>8}"
              f"{'wall s':>8}  notes")
        for name, r in best.items():
            cpu_cost = 1 - (plain["cpu"] / r["cpu"])
            loop_cost = 1 - r["loop_lps"] / plain["loop_lps"]
            notes = []
            if r["scrapes"]:
                notes.append(f"{r['scrapes']:.0f} scrapes")
            if r["published"] >= 0:
                notes.append(f"MQTT {r['published']:,.0f} published, {r['dropped']:,.0f} dropped")
            flag = "" if name == "plain" or cpu_cost <= BUDGET else "  OVER BUDGET (CPU)"
            print(f"{name:<22}{r['cpu']:>8.2f}{r['lines'] / r['cpu']:>13,.0f}{cpu_cost:>8.1%}"
                  f"{r['loop_lps']:>14,.0f}{loop_cost:>8.1%}{r['wall']:>8.2f}  {', '.join(notes)}{flag}")
    finally:
        broker.terminate()
        broker.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
