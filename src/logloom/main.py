"""The lifecycle: boot (configs, state, outputs), loop (blocks of lines), shutdown.

``monitor`` resumes from the checkpoint and keeps it, following the file if asked;
``record`` runs from scratch into a baseline archive. Both feed the same ``Run``;
only where rows go afterwards differs. Large files are parsed in a second process
(``parse_worker``) while this one runs the engine; the outputs are the same.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from logloom.config.load import Config
from logloom.detect.baseline import BASELINE_FILE, load_active, stage_archive
from logloom.detect.monitoring import LearnHook, anomaly_config, make_scorer, metric_limits
from logloom.detect.scoring import Scorer
from logloom.errors import InputError, StateFileError
from logloom.outputs.runs import archive_outputs, finish_archive
from logloom.outputs.state_store import CHECKPOINT, SNAPSHOT, SNAPSHOT_DIR, DataLock, load_state, write_json_atomic
from logloom.parse.lines import parse_log, parse_texts
from logloom.parse.log_parser import BlockParser, ParsedBlock
from logloom.parse.source import Identity, Tail, identify, open_log
from logloom.parse.stream import Stream, is_stdin, is_stream, source_name
from logloom.run import Run, RunOptions
from logloom.stopping import request_stop, stop_on_signals
from logloom.ui import UI, Bar

if TYPE_CHECKING:
    from logloom.parse.parse_worker import ParsedBlocks

__all__ = ["RunOptions", "check_readable", "monitor", "open_log", "parse_log", "parse_texts", "record",
           "request_stop", "resumed_states"]

FOLLOW_POLL_S = 0.1
PARALLEL_MIN_BYTES = 8 << 20  # below this a second process costs more than it saves
GC_YOUNG_THRESHOLD = 50_000  # new container objects between collections (CPython's default: 700)


@contextmanager
def long_run_gc() -> Iterator[None]:
    """Garbage collection tuned for the loop, which makes millions of short-lived tuples.

    CPython starts a collection every 700 new container objects and, every so often,
    walks every object alive: the modules, pydantic's models and numpy included.
    That was a third of the main process's time. What start-up built is frozen
    (``gc.freeze``: kept out of every collection), and the young generation is
    collected every 50 000 new objects; reference cycles are still collected.
    """
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


# -- sources ------------------------------------------------------------------------------
def check_readable(path: Path) -> None:
    """Raise InputError (exit 2) unless ``path`` is a readable file (or a stream)."""
    if not is_stream(path):
        open_log(path).close()


def file_size(path: Path) -> int:
    """Bytes in ``path`` (0 for a stream, which has no size)."""
    if is_stream(path):
        return 0
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _use_worker(options: RunOptions, remaining: int, stream: bool) -> bool:
    if options.follow or options.parallel is False or stream:  # the worker opens the file itself
        return False
    if options.parallel:
        return True
    return remaining >= PARALLEL_MIN_BYTES and (os.cpu_count() or 1) >= 2


class _Blocks:
    """Parsed blocks of one file from an offset: from the worker, or parsed here.

    ``take_partial``: also a last line that has no newline (record does; monitor
    leaves it until it is complete, so that a growing file is read exactly once).

    ``fh`` stays open on the file being read (for crash offsets); ``identity`` is
    the file's as of the latest block (following may move to a rotated file). A
    stream (stdin, a pipe) is read as it comes, to its end, and has no offset to
    come back to.
    """

    def __init__(self, config: Config, options: RunOptions, path: Path, offset: int, last_ts: int | None,
                 notify: Callable[[str], None], *, take_partial: bool) -> None:
        max_line = config.patterns.max_line_bytes
        self.stream = is_stream(path)
        self.tail: Tail | Stream
        if self.stream:
            self.tail = Stream(path, max_line)
        else:
            self.tail = Tail(path, offset, follow=options.follow, max_line_bytes=max_line, notify=notify,
                             take_partial=take_partial)
        self.worker: ParsedBlocks | None = None
        if _use_worker(options, file_size(path) - offset, self.stream):
            from logloom.parse.parse_worker import (
                ParsedBlocks,  # multiprocessing: 3 ms of start-up, for large files only
            )

            self.worker = ParsedBlocks(config.patterns, path, offset, last_ts or -(1 << 62), max_line,
                                       take_partial=take_partial)
        self.parser = BlockParser(config.patterns, last_ts)

    @property
    def fh(self) -> BinaryIO:
        return self.tail.fh

    @property
    def identity(self) -> Identity:
        return self.tail.identity

    def __iter__(self) -> Iterator[ParsedBlock | None]:
        """Blocks in order; following, None when nothing new is there yet."""
        if self.worker is not None:
            yield from self.worker
            return
        while True:
            block = self.tail.next_block()
            if block is None and not self.tail.follow:
                return
            yield None if block is None else self.parser.parse(block)

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()
        self.tail.close()


# -- monitor ------------------------------------------------------------------------------
def monitor(config: Config, options: RunOptions, ui: UI) -> tuple[dict[str, Any], Scorer | None]:
    """Process the source from the last checkpoint; write metrics and score them.

    Returns the run summary and the scorer (None without an active baseline).
    """
    data_dir = options.data_dir
    log = options.logs[0] if options.logs else data_dir / "machine_logs.txt"
    data_dir.mkdir(parents=True, exist_ok=True)
    with DataLock(data_dir), long_run_gc():
        check_readable(log)
        _archive_runs(data_dir, options.from_start, ui)
        saved = _latest_state(data_dir, ui)
        if is_stream(log):
            offset = 0
            ui.notify(f"{source_name(log) if is_stdin(log) else log}: a stream, read as it comes to its end; "
                      "there is no resume for a stream: lines it sends while no monitor runs are not read "
                      "(the components' states carry over)")
        else:
            offset = resume_offset(saved, log, identify(log), ui.notify)
        scorer = _active_scorer(config, data_dir, ui)
        run = Run(config, data_dir, options, saved=saved, scorer=scorer)
        run.source_name = source_name(log)
        run.offset = offset
        blocks = _Blocks(config, options, log, offset, run.parser_last, ui.notify, take_partial=False)
        try:
            total = None if options.follow or blocks.stream else file_size(log) - offset
            with ui.progress(f"monitor {run.source_name}", total) as bar:
                _loop(run, blocks, options, bar, data_dir)
        finally:
            blocks.close()
        pending = file_size(log) - run.offset
        if pending > 0 and not options.follow:
            ui.notify(f"{log}: {pending} bytes after the last complete line are left for the next run "
                      "(a line without its newline yet)")
        summary = run.summary([str(log)])
        write_json_atomic(data_dir / "run_summary.json", summary)
        run.close()
        return summary, scorer


def _archive_runs(data_dir: Path, from_start: bool, ui: UI) -> None:
    """Complete an interrupted ``--from-start``; with ``from_start``, archive the outputs now."""
    for done in finish_archive(data_dir):
        ui.notify(f"an interrupted --from-start is now complete: the outputs it moved are in {done}")
    if from_start:
        moved = archive_outputs(data_dir)
        ui.notify(f"--from-start: the previous outputs and checkpoint are in {moved}; processing afresh"
                  if moved else "--from-start: no earlier outputs to archive; processing afresh")


def _loop(run: Run, blocks: _Blocks, options: RunOptions, bar: Bar, data_dir: Path) -> None:
    """Feed blocks until the end (or, following, until a signal); checkpoint every so often."""

    def checkpoint() -> None:
        run.flush(sync=True)
        write_json_atomic(data_dir / CHECKPOINT, run.state(_source(blocks, run.offset, run.line_no)))
        run.committed()

    parsed: ParsedBlock | None = None
    with stop_on_signals() as stop:
        try:
            last = time.monotonic()
            saved_at = (blocks.identity, run.offset)
            for parsed in blocks:
                if parsed is None:  # following, and nothing new yet: make the position durable
                    if (blocks.identity, blocks.tail.offset) != saved_at:
                        run.offset = blocks.tail.offset  # a rotation or truncation moved it
                        checkpoint()
                        last, saved_at = time.monotonic(), (blocks.identity, run.offset)
                    if stop.requested:
                        break
                    if not blocks.stream:  # a stream waits for data itself
                        time.sleep(FOLLOW_POLL_S)
                    continue
                before = run.offset
                run.feed(parsed)
                bar.advance(max(0, run.offset - before))
                parsed = None
                if stop.requested:
                    break
                if time.monotonic() - last >= options.checkpoint_every:
                    checkpoint()
                    last, saved_at = time.monotonic(), (blocks.identity, run.offset)
        except Exception as exc:
            offset = run.offset
            if parsed is not None:
                if not blocks.stream:  # a stream's offset is never read back
                    offset = run.processed_offset(parsed, blocks.fh)
                run.rewind(parsed)
            saved_to = _crash_snapshot(run, data_dir, _source(blocks, offset, run.line_no))
            if saved_to is not None:
                exc.add_note(f"the state at the last whole line was saved to {saved_to}; "
                             "the next monitor resumes from it")
            raise
        checkpoint()


def _source(blocks: _Blocks, offset: int, line_no: int) -> dict[str, Any]:
    return {"path": str(blocks.tail.path), "identity": blocks.identity.to_dict(), "offset": offset,
            "line_no": line_no}


def _crash_snapshot(run: Run, data_dir: Path, source: dict[str, Any]) -> Path | None:
    """Scenario A: flush what was produced and save the state at the last whole line.
    Returns where it was saved (None if that failed too)."""
    try:
        run.flush(sync=True)
        snap_dir = data_dir / SNAPSHOT_DIR
        snap_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(snap_dir / SNAPSHOT, run.state(source))
        run.committed()
    except Exception:  # never hide the original failure behind a second one
        return None
    return snap_dir / SNAPSHOT


def resume_offset(saved: dict[str, Any] | None, path: Path, identity: Identity, notify: Callable[[str], None]) -> int:
    """Where to start reading ``path``: the checkpoint's offset if it is the same file."""
    if not saved:
        return 0
    src = saved["source"]
    if src["path"] != str(path):
        notify(f"{path}: a new source (the checkpoint was of {src['path']}); reading it from its start")
        return 0
    old = Identity.from_dict(src["identity"])
    offset = int(src["offset"])
    if (old.device, old.inode) != (identity.device, identity.inode) or (old.head and old.head != identity.head):
        notify(f"{path}: the file was replaced since the checkpoint; reading it from its start")
        return 0
    if file_size(path) < offset:
        notify(f"{path}: the file was truncated since the checkpoint; reading it from its start")
        return 0
    return offset


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
        used = snap_path.with_name(f"crash_state.{_now_id()}.used.json")
        os.replace(snap_path, used)
    return saved


def resumed_states(data_dir: Path) -> dict[str, str]:
    """Component -> state as the next monitor will resume them (for observers that draw)."""
    path = data_dir / CHECKPOINT
    if not path.exists():
        return {}
    try:
        return {c["id"]: c["state"] for c in load_state(path)["engine"]["components"]}
    except StateFileError:
        return {}  # monitor itself reports it


def _active_scorer(config: Config, data_dir: Path, ui: UI) -> Scorer | None:
    baseline = load_active(data_dir)
    if baseline is None:
        faults = any(s is not None and s.fault for m in config.logic.machines.values() for s in m.states.values())
        ui.warn(f"no active baseline ({data_dir / BASELINE_FILE}): metrics are written but not scored"
                + ("; fault states are still flagged" if faults else "")
                + "; run `logloom record` on a good shift first")
        return make_scorer(config, None) if faults else None
    if baseline.get("config_sha256") and baseline["config_sha256"] != config.sha256:
        ui.warn(f"{baseline.get('id')} was recorded with another version of the configs; "
                "limits of changed metrics may not fit")
    return make_scorer(config, baseline)


def _now_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


# -- record -------------------------------------------------------------------------------
def record(config: Config, options: RunOptions, ui: UI) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Process the logs from their start with a fresh engine; archive and activate a baseline.

    Returns (baseline id, baseline, run summary). Metrics, rejected lines and the run
    summary are written into the archive directory, never over monitor's outputs.
    """
    data_dir = options.data_dir
    logs = options.logs or [data_dir / "machine_logs.txt"]
    if sum(map(is_stdin, logs)) > 1:
        raise InputError("-: stdin can be read only once; give --logs - at most once")
    for log in logs:
        check_readable(log)
    learn = LearnHook()
    options.observers = [learn, *options.observers]
    options.follow = False
    with stage_archive(data_dir) as stage, long_run_gc():
        run = Run(config, stage.path, options)
        for log in logs:
            run.source_name, run.line_no = source_name(log), 0
            blocks = _Blocks(config, options, log, 0, None, ui.notify, take_partial=True)
            try:
                with (stop_on_signals() as stop,
                      ui.progress(f"record {run.source_name}", None if blocks.stream else file_size(log)) as bar):
                    for parsed in blocks:
                        if parsed is not None:  # None: a stream with nothing new yet
                            run.feed(parsed)
                            bar.advance(parsed.end - parsed.start)
                        if stop.requested:
                            raise InputError("record interrupted; no baseline was archived")
            finally:
                blocks.close()
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
