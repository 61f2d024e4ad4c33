"""The lifecycle: boot (configs, state, outputs), loop (lines -> events -> rows), shutdown.

``Run`` wires one pass of the pipeline: parser -> engine -> sinks (and the scorer,
when monitoring against a baseline). ``monitor`` resumes from the checkpoint and
keeps it; ``record`` runs from scratch into a baseline archive. Both are the same
loop; only where rows go afterwards differs.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from .baseline import BASELINE_FILE, load_active, stage_archive
from .config import Config
from .engine import Engine
from .errors import InputError, StateFileError
from .log_parser import LineParser
from .monitoring import LearnHook, ScoringHook, anomaly_config, make_scorer, metric_limits
from .records import Anomaly, MetricRow, Observer
from .scoring import Scorer
from .sinks import AnomalySink, MetricsSink, RejectedSink, TextSink
from .source import Block, Identity, Tail, identify
from .state_store import (
    CHECKPOINT,
    SCHEMA_VERSION,
    SNAPSHOT,
    SNAPSHOT_DIR,
    DataLock,
    load_state,
    write_json_atomic,
)
from .timestamps import TimeFormatter
from .ui import UI

CHECKPOINT_EVERY_S = 1.0
FOLLOW_POLL_S = 0.1
STAT_KEYS = ("lines_read", "malformed", "unmatched", "events", "rows_written", "anomalies")


@dataclass
class RunOptions:
    """What the CLI decided; everything a run needs besides the config."""

    data_dir: Path
    logs: list[Path]
    strict: bool = False
    max_part_mb: float = 100.0
    time_format: str = "iso"
    quiet: bool = False
    follow: bool = False
    checkpoint_every: float = CHECKPOINT_EVERY_S
    observers: list[Observer] = field(default_factory=list)


class Stop:
    """Set by SIGTERM/SIGINT; the loop checks it between blocks and shuts down cleanly."""

    def __init__(self) -> None:
        self.requested = False

    def request(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True


@contextmanager
def stop_on_signals() -> Iterator[Stop]:
    stop = Stop()
    previous = {s: signal.signal(s, stop.request) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


class Run:
    """One pass of the pipeline over one or more sources, writing into ``out_dir``.

    Owns the parser, engine, sinks and counters. ``feed`` processes whole blocks;
    ``state`` is what a checkpoint needs to continue exactly where it stopped.
    """

    def __init__(
        self,
        config: Config,
        out_dir: Path,
        options: RunOptions,
        *,
        saved: dict[str, Any] | None = None,
        scorer: Scorer | None = None,
    ) -> None:
        self.config = config
        self.out_dir = out_dir
        self.parser = LineParser(config.patterns)
        self.engine = Engine(config, strict=options.strict, observers=options.observers)
        self.observers = options.observers
        self.scoring = ScoringHook(scorer) if scorer is not None else None
        if self.scoring is not None:
            self.engine.observers.insert(0, self.scoring)
        self.format_ts = TimeFormatter(
            options.time_format, tz=self.parser.timestamps.tz, instants=self.parser.timestamps.has_instants
        )
        lengths = saved["outputs"] if saved else None
        self.metrics = MetricsSink(out_dir, self.format_ts, options.max_part_mb * 1_000_000, lengths)
        self.rejected = RejectedSink(out_dir, lengths)
        self.anomalies = AnomalySink(out_dir, self.format_ts, lengths) if scorer is not None else None
        self.stats = dict.fromkeys(STAT_KEYS, 0)
        self.line_no = 0
        self.block_first = 0
        self._block_start: tuple[dict[str, Any], int, dict[str, int], dict[str, Any] | None] = ({}, 0, {}, None)
        self.bytes_seen = 0
        self.source_name = ""
        self.started = time.monotonic()
        if saved:
            self.engine.load_state(saved["engine"])
            self.stats.update({k: int(saved["stats"].get(k, 0)) for k in STAT_KEYS})
            self.line_no = int(saved["source"]["line_no"])
            last = saved.get("parser", {}).get("last_ts")
            if last is not None:
                self.parser.timestamps.last = int(last)
            if scorer is not None and saved.get("scorer"):
                try:
                    scorer.restore(saved["scorer"])
                except ValueError as exc:
                    raise StateFileError(f"{CHECKPOINT}: {exc}; move it aside to start over") from None

    def feed(self, block: Block) -> None:
        """Process every line of ``block`` in order.

        If a line raises, ``line_no`` stays at the last fully processed line and the
        exception propagates; ``rewind`` then restores the state of that line.
        """
        self.block_first = self.line_no
        self._block_start = (
            self.engine.state_dict(), self.parser.timestamps.last, dict(self.stats),
            self.scoring.scorer.to_dict() if self.scoring else None,
        )
        self._process(block, len(block.lines), emit=True)

    def rewind(self, block: Block) -> None:
        """Make the state exactly that after the last fully processed line of ``block``.

        The line that raised may have changed the engine half-way; the block's start
        state is restored and the lines before the failing one are replayed without
        writing anything (their rows and rejects were written the first time).
        """
        done = self.line_no - self.block_first
        engine_state, last_ts, stats, scorer_state = self._block_start
        self.engine.load_state(engine_state)
        self.parser.timestamps.last = last_ts
        self.stats = stats
        self.line_no = self.block_first
        if self.scoring is not None and scorer_state is not None:
            self.scoring.scorer.restore(scorer_state)
        observers = self.engine.observers
        self.engine.observers = [self.scoring] if self.scoring is not None else []
        try:
            self._process(block, done, emit=False)
        finally:
            self.engine.observers = observers

    def _process(self, block: Block, count: int, *, emit: bool) -> None:
        """The hot loop: the first ``count`` lines of ``block``; rows are written per block."""
        parse = self.parser.parse
        step = self.engine.step
        reject = self.rejected.reject if emit else _discard_reject
        scoring = self.scoring
        emit_anomalies = self._emit_anomalies if emit else _discard
        long = block.long
        source = self.source_name
        start = line_no = self.line_no
        texts = block.texts()
        rows_out: list[MetricRow] = []
        kept = 0  # rows_out[:kept] belong to fully processed lines
        events = unmatched = malformed = 0
        try:
            for i in range(count):
                text = texts[i]
                line_no += 1
                if long and i in long:
                    malformed += 1
                    reject(source, line_no, f"line too long ({long[i]} bytes)", text)
                    continue
                res = parse(text, line_no)
                if res is None:
                    unmatched += 1
                elif res.__class__ is str:
                    malformed += 1
                    reject(source, line_no, str(res), text)
                else:
                    rows = step(res)  # type: ignore[arg-type]
                    if rows:
                        rows_out += rows
                    if scoring is not None:
                        found = scoring.after_step(res.ts, rows)  # type: ignore[union-attr]
                        if found:
                            emit_anomalies(found)
                    events += 1
                    kept = len(rows_out)
        except BaseException:
            line_no -= 1  # the failing line was not fully processed
            raise
        finally:
            del rows_out[kept:]
            if emit and rows_out:
                self.metrics.write_rows(rows_out)
            stats = self.stats
            stats["rows_written"] += len(rows_out)
            stats["events"] += events
            stats["unmatched"] += unmatched
            stats["malformed"] += malformed
            stats["lines_read"] += line_no - start
            self.line_no = line_no

    def _emit_anomalies(self, found: list[Anomaly]) -> None:
        assert self.anomalies is not None
        self.anomalies.write_anomalies(found)
        self.stats["anomalies"] += len(found)
        for obs in self.observers:
            for a in found:
                obs.on_anomaly(a)

    def processed_offset(self, block: Block) -> int:
        """Byte offset after the last fully processed line of ``block``."""
        done = self.line_no - self.block_first
        return block.start if done <= 0 else block.offset_after(done - 1)

    def _sinks(self) -> list[TextSink]:
        return [s for s in (self.metrics, self.rejected, self.anomalies) if s is not None]

    def flush(self, *, sync: bool = False) -> None:
        for sink in self._sinks():
            sink.flush(sync=sync)

    def output_lengths(self) -> dict[str, int]:
        return {name: n for sink in self._sinks() for name, n in sink.lengths().items()}

    def state(self, source: dict[str, Any]) -> dict[str, Any]:
        """A checkpoint of everything processed so far (flush first)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "written_at": datetime.now(UTC).isoformat(),
            "config_sha256": self.config.sha256,
            "source": source,
            "parser": {"last_ts": self.parser.timestamps.last},
            "engine": self.engine.state_dict(),
            "scorer": self.scoring.scorer.to_dict() if self.scoring else None,
            "outputs": self.output_lengths(),
            "stats": dict(self.stats),
        }

    def summary(self, sources: list[str]) -> dict[str, Any]:
        wall = time.monotonic() - self.started
        return {
            "sources": sources,
            **self.stats,
            **self.engine.counters,
            "components": self.engine.component_counters(),
            "wall_time_s": round(wall, 3),
            "lines_per_second": round(self.stats["lines_read"] / wall, 1) if wall > 0 else None,
            "outputs": [p.name for p in self.metrics.paths()],
        }

    def close(self) -> None:
        for sink in self._sinks():
            sink.close()
        for obs in self.observers:
            obs.close()


def _discard(*args: object) -> None:
    pass


def _discard_reject(source: str, line_no: int, reason: str, text: str) -> None:
    pass


def check_readable(path: Path) -> None:
    """Raise InputError (exit 2) unless ``path`` is a readable file."""
    open_log(path).close()


def open_log(path: Path) -> Any:
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise InputError(f"{path}: log file not found") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a log file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None


def source_state(path: Path, identity: Identity, offset: int, line_no: int) -> dict[str, Any]:
    return {"path": str(path), "identity": identity.to_dict(), "offset": offset, "line_no": line_no}


def resume_offset(saved: dict[str, Any] | None, path: Path, identity: Identity, notify: Callable[[str], None]) -> int:
    """Where to start reading ``path``: the checkpoint's offset if it is the same file."""
    if not saved:
        return 0
    src = saved["source"]
    if src["path"] != str(path):
        notify(f"{path}: a new source (the checkpoint was of {src['path']}); reading it from its start")
        return 0
    old = Identity.from_dict(src["identity"])
    size = path.stat().st_size
    offset = int(src["offset"])
    if (old.device, old.inode) != (identity.device, identity.inode) or (old.head and old.head != identity.head):
        notify(f"{path}: the file was replaced since the checkpoint; reading it from its start")
        return 0
    if size < offset:
        notify(f"{path}: the file was truncated since the checkpoint; reading it from its start")
        return 0
    return offset


def checkpoint_path(data_dir: Path) -> Path:
    return data_dir / CHECKPOINT


def now_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def file_size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


# -- monitor ------------------------------------------------------------------------------
def _latest_state(data_dir: Path, ui: UI) -> dict[str, Any] | None:
    """The checkpoint, or a crash snapshot that is newer (then moved aside)."""
    cp_path = data_dir / CHECKPOINT
    snap_path = data_dir / SNAPSHOT_DIR / SNAPSHOT
    saved = load_state(cp_path) if cp_path.exists() else None
    if snap_path.exists():
        snap = load_state(snap_path)
        if saved is None or snap["written_at"] > saved["written_at"]:
            line = snap["source"]["line_no"]
            ui.notify(f"resuming from the crash snapshot of {snap['written_at']} (after line {line})")
            saved = snap
        used = snap_path.with_name(f"crash_state.{now_id()}.used.json")
        os.replace(snap_path, used)
    return saved


def monitor(config: Config, options: RunOptions, ui: UI) -> tuple[dict[str, Any], Scorer | None]:
    """Process the source from the last checkpoint; write metrics and score them.

    Returns the run summary and the scorer (None without an active baseline).
    """
    data_dir = options.data_dir
    log = options.logs[0] if options.logs else data_dir / "machine_logs.txt"
    data_dir.mkdir(parents=True, exist_ok=True)
    with DataLock(data_dir):
        check_readable(log)
        saved = _latest_state(data_dir, ui)
        offset = resume_offset(saved, log, identify(log), ui.notify)
        scorer = _active_scorer(config, data_dir, ui)
        run = Run(config, data_dir, options, saved=saved, scorer=scorer)
        run.source_name = log.name
        run.bytes_seen = offset
        tail = Tail(log, offset, follow=options.follow, max_line_bytes=config.patterns.max_line_bytes,
                    notify=ui.notify)
        try:
            _loop(run, tail, options, ui, data_dir, total=None if options.follow else file_size(log) - offset)
        finally:
            tail.close()
        summary = run.summary([str(log)])
        write_json_atomic(data_dir / "run_summary.json", summary)
        run.close()
        return summary, scorer


def _active_scorer(config: Config, data_dir: Path, ui: UI) -> Scorer | None:
    baseline = load_active(data_dir)
    if baseline is None:
        ui.warn(f"no active baseline ({data_dir / BASELINE_FILE}): metrics are written but not scored; "
                "run `logloom record` on a good shift first")
        return None
    if baseline.get("config_sha256") and baseline["config_sha256"] != config.sha256:
        ui.warn(f"{baseline.get('id')} was recorded with another version of the configs; "
                "limits of changed metrics may not fit")
    return make_scorer(config, baseline)


# -- record -------------------------------------------------------------------------------
def record(config: Config, options: RunOptions, ui: UI) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Process the logs from their start with a fresh engine; archive and activate a baseline.

    Returns (baseline id, baseline, run summary). Metrics, rejected lines and the run
    summary are written into the archive directory, never over monitor's outputs.
    """
    data_dir = options.data_dir
    logs = options.logs or [data_dir / "machine_logs.txt"]
    for log in logs:
        check_readable(log)
    learn = LearnHook()
    options.observers = [learn, *options.observers]
    with stage_archive(data_dir) as stage:
        run = Run(config, stage.path, options)
        for log in logs:
            run.source_name, run.line_no = log.name, 0
            tail = Tail(log, 0, follow=False, max_line_bytes=config.patterns.max_line_bytes, notify=ui.notify)
            try:
                with stop_on_signals() as stop, ui.progress(f"record {log.name}", file_size(log)) as bar:
                    while not stop.requested and (block := tail.next_block()) is not None:
                        run.feed(block)
                        bar.advance(block.end - block.start)
                    if stop.requested:
                        raise InputError("record interrupted; no baseline was archived")
            finally:
                tail.close()
        run.close()
        summary = run.summary([str(p) for p in logs])
        write_json_atomic(stage.path / "run_summary.json", summary)
        baseline = learn.accumulator.build(
            metric_limits(config), k_default=anomaly_config(config).k,
            sources=[str(p) for p in logs], config_sha256=config.sha256,
        )
        if not baseline["metrics"]:
            raise InputError(f"{', '.join(map(str, logs))}: no metric rows were produced; nothing to learn "
                             "(check the patterns with `logloom parse`)")
        baseline_id = stage.commit(baseline)
    return baseline_id, load_active(data_dir) or baseline, summary


def resumed_states(data_dir: Path) -> dict[str, str]:
    """Component -> state as the next monitor will resume them (for observers that draw)."""
    path = data_dir / CHECKPOINT
    if not path.exists():
        return {}
    try:
        return {c["id"]: c["state"] for c in load_state(path)["engine"]["components"]}
    except StateFileError:
        return {}  # monitor itself reports it


def _checkpoint(run: Run, tail: Tail, data_dir: Path) -> None:
    run.flush(sync=True)
    source = source_state(tail.path, tail.identity, tail.offset, run.line_no)
    write_json_atomic(data_dir / CHECKPOINT, run.state(source))


def _loop(run: Run, tail: Tail, options: RunOptions, ui: UI, data_dir: Path, *, total: int | None) -> None:
    """Feed blocks until the end (or, following, until a signal); checkpoint every second."""
    block: Block | None = None
    with stop_on_signals() as stop, ui.progress(f"monitor {tail.path.name}", total) as bar:
        try:
            last = time.monotonic()
            saved_at = (tail.identity, tail.offset)
            while not stop.requested:
                block = tail.next_block()
                if block is None:
                    if not options.follow:
                        break
                    if (tail.identity, tail.offset) != saved_at:  # idle: make the position durable
                        _checkpoint(run, tail, data_dir)
                        last, saved_at = time.monotonic(), (tail.identity, tail.offset)
                    time.sleep(FOLLOW_POLL_S)
                    continue
                run.feed(block)
                block = None
                bar.advance(max(0, tail.offset - run.bytes_seen))
                run.bytes_seen = tail.offset
                if time.monotonic() - last >= options.checkpoint_every:
                    _checkpoint(run, tail, data_dir)
                    last, saved_at = time.monotonic(), (tail.identity, tail.offset)
        except Exception:
            offset = tail.offset
            if block is not None:
                offset = run.processed_offset(block)
                run.rewind(block)
            _crash_snapshot(run, data_dir, source_state(tail.path, tail.identity, offset, run.line_no))
            raise
        _checkpoint(run, tail, data_dir)


def _crash_snapshot(run: Run, data_dir: Path, source: dict[str, Any]) -> None:
    """Scenario A: flush what was produced and save the state at the last whole line."""
    try:
        run.flush(sync=True)
        snap_dir = data_dir / SNAPSHOT_DIR
        snap_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(snap_dir / SNAPSHOT, run.state(source))
    except Exception:  # never hide the original failure behind a second one
        pass
