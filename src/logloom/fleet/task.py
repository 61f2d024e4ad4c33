"""What a worker runs for one source: the same ``record``/``monitor`` as the CLI.

A task loads the source's config, expands its logs and calls ``main.record`` or
``main.monitor`` (one file after another) with the source's own data directory, so
it has the lock, checkpoint and exactly-once resume of a plain run. A task that a
dead worker left is run again elsewhere and resumes from the checkpoint; the dead
process's OS lock died with it. A lock still held (a worker that lost the scheduler
but still runs) is waited for. A source's bad config or logs end the task with
``failed`` and the message; they never touch the other sources.

Nothing here imports Dask: the progress callback is handed in by ``cluster``.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from logloom.config.load import Config, load_config
from logloom.detect.baseline import load_active
from logloom.detect.monitoring import LearnHook, anomaly_config
from logloom.errors import DataDirBusy, LogloomError
from logloom.fleet.logs import Ledger, expand
from logloom.fleet.peers import peer_findings
from logloom.main import monitor, record
from logloom.outputs.state_store import CHECKPOINT, load_state
from logloom.parse import rotation
from logloom.parse.source import Identity
from logloom.run import ParquetOptions, RunOptions
from logloom.ui import UI, Bar

LOCK_WAIT_S = 120.0
COUNTS = ("lines_read", "rows_written", "anomalies", "malformed", "unmatched", "incidents")
Progress = Callable[[dict[str, Any]], None]
T = TypeVar("T")


@dataclass(frozen=True)
class Job:
    """One source's task, in plain data (pickled to the worker)."""

    name: str
    mode: str  # "record" or "monitor"
    config: str
    logs: tuple[str, ...]
    data_dir: str
    parquet_root: str
    parquet_part_rows: int = 1_000_000
    follow: bool = False
    strict: bool = False
    checkpoint_every: float = 1.0
    lock_wait_s: float = LOCK_WAIT_S


@dataclass
class Outcome:
    """What the client shows and writes to fleet_summary.json for one source."""

    name: str
    status: str = "done"  # done | failed | error (a bug: exit 1)
    error: str | None = None
    files: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    wall_s: float = 0.0
    worker: str = ""
    baseline_id: str | None = None
    notices: list[str] = field(default_factory=list)
    peers: list[dict[str, Any]] = field(default_factory=list)  # this run against the pooled baseline

    def to_dict(self) -> dict[str, Any]:
        wall = self.wall_s
        lines = self.counts.get("lines_read", 0)
        return {"name": self.name, "status": self.status, "error": self.error, "files": self.files,
                **self.counts, "wall_time_s": round(wall, 3),
                "lines_per_second": round(lines / wall, 1) if wall > 0 else None,
                "worker": self.worker, "baseline_id": self.baseline_id, "notices": self.notices,
                **({"peers": self.peers} if self.peers else {})}


class _Bar:
    def __init__(self, report: Callable[[int], None]) -> None:
        self._report = report

    def advance(self, n: int) -> None:
        self._report(n)


class TaskUI(UI):
    """Notices are kept for the fleet summary; progress goes to ``progress_cb``, at most
    twice a second."""

    def __init__(self, name: str, progress_cb: Progress | None) -> None:
        super().__init__(quiet=True)
        self.name = name
        self.notices: list[str] = []
        self._cb = progress_cb

    def notify(self, message: str) -> None:
        self.notices.append(message)

    def always(self, message: str) -> None:
        self.notices.append(message)

    def warn(self, message: str) -> None:
        self.notices.append(f"warning: {message}")

    @contextmanager
    def progress(self, label: str, total: int | None) -> Iterator[Bar]:
        cb = self._cb
        if cb is None:
            yield _Bar(lambda n: None)
            return
        state = {"done": 0, "sent": 0.0}

        def report(n: int, final: bool = False) -> None:
            state["done"] += n
            now = time.monotonic()
            if final or now - state["sent"] >= 0.5:
                state["sent"] = now
                cb({"source": self.name, "label": label, "done": state["done"], "total": total})

        report(0, final=True)
        yield _Bar(report)
        report(0, final=True)


def _counts(data_dir: Path) -> dict[str, int]:
    """The cumulative counters of the source's checkpoint (zero before the first)."""
    path = data_dir / CHECKPOINT
    stats = load_state(path)["stats"] if path.exists() else {}
    return {k: int(stats.get(k, 0)) for k in COUNTS}


def run_source(job: Job, progress_cb: Progress | None = None) -> Outcome:
    """Run one source to its end; never raises for the source's own mistakes."""
    started = time.monotonic()
    outcome = Outcome(job.name, worker=f"{socket.gethostname()}:{os.getpid()}")
    ui = TaskUI(job.name, progress_cb)
    try:
        config = load_config(job.config)
        files = expand(job.logs, config)
        # a task is one core (no parse worker): the fleet's parallelism is its sources
        options = RunOptions(data_dir=Path(job.data_dir), logs=files, strict=job.strict, quiet=True,
                             checkpoint_every=job.checkpoint_every, parallel=False)
        if job.mode == "record":
            outcome.baseline_id, _, summary = _locked(job, lambda: record(config, options, ui))
            outcome.counts = {k: int(summary.get(k, 0)) for k in COUNTS}
            outcome.files = len(files)
        else:
            options.follow = job.follow
            options.parquet = ParquetOptions(Path(job.parquet_root), job.name, job.parquet_part_rows)
            outcome.files = _monitor_files(job, config, options, files, ui, outcome)
    except LogloomError as exc:
        outcome.status, outcome.error = "failed", str(exc)
    outcome.wall_s = time.monotonic() - started
    outcome.notices = ui.notices
    return outcome


def _monitor_files(job: Job, config: Config, options: RunOptions, files: list[Path], ui: TaskUI,
                   outcome: Outcome) -> int:
    """``main.monitor`` of each file not yet read to its end, in time order."""
    data_dir = options.data_dir
    ledger = Ledger(data_dir)
    before = _counts(data_dir)
    active = load_active(data_dir)
    stats = LearnHook() if active is not None and "pooled" in active else None
    if stats is not None:
        options.observers = [*options.observers, stats]
    done = 0
    deferred: list[Path] = []  # rotated from the checkpoint's path: monitor of that path reads them first
    for i, path in enumerate(files):
        last = i == len(files) - 1
        if not ledger.pending(path) and not (job.follow and last):  # the newest file is followed even when read
            continue
        if not ledger.new(path):
            reader = _reader(data_dir, path, files[i + 1 :])
            if reader is None:
                ui.warn(f"{path}: grew after it was read to its end under another name; its new lines are not read")
                continue
            if reader != path:
                deferred.append(path)
                continue
        options.logs = [path]
        options.rotated = [str(p) for p in deferred]  # absolute paths: where monitor finds them, whatever their names
        options.follow = job.follow and last  # only the newest file is followed
        _locked(job, lambda: monitor(config, options, ui))
        for rotated in deferred:  # read to their ends (their last lines too) before ``path``
            ledger.finish(rotated, rotated.stat().st_size)
        deferred.clear()
        ledger.finish(path, int(load_state(data_dir / CHECKPOINT)["source"]["offset"]))
        done += 1
    after = _counts(data_dir)
    outcome.counts = {k: after[k] - before[k] for k in COUNTS}
    if stats is not None:
        outcome.peers = peer_findings(stats, data_dir, job.name, anomaly_config(config).min_samples)
    return done


def _reader(data_dir: Path, path: Path, later: list[Path]) -> Path | None:
    """Which file's ``monitor`` reads the rest of ``path``, a file read before that grew
    since: None when ``path`` is not the very file the checkpoint was reading (a rename
    keeps its inode) with what was read still in it. When rotation took it away from the
    checkpoint's path and a new file there comes ``later``, that one: its ``monitor``
    reads the rotated file first, as a plain monitor of that path does, naming its lines
    after the path. Otherwise ``path`` itself, resumed at the checkpoint's offset."""
    state = data_dir / CHECKPOINT
    if not state.exists():
        return None
    src = load_state(state)["source"]
    saved = rotation.Saved(Identity.from_dict(src["identity"]), int(src["offset"]), src.get("tail"))
    st = path.stat()
    if (st.st_dev, st.st_ino) != (saved.identity.device, saved.identity.inode) or not rotation.holds(path, saved):
        return None
    return next((p for p in later if str(p) == os.path.abspath(src["path"]) and not p.samefile(path)), path)


def _locked(job: Job, call: Callable[[], T]) -> T:
    """``call``, waiting while another process holds the data directory's lock."""
    deadline = time.monotonic() + job.lock_wait_s
    while True:
        try:
            return call()
        except DataDirBusy:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.2)
