"""The lifecycle: boot (configs, state, outputs), loop (blocks of lines), shutdown.

``monitor`` resumes from the checkpoint and keeps it, following the file if asked;
``record`` runs from scratch into a baseline archive. Both feed the same ``Run``;
only where rows go afterwards differs. Large files are parsed in a second process
(``parse_worker``) while this one runs the engine; the outputs are the same.
Where a run starts (the state, the files to read) is ``resume``'s; the blocks and
the stop signals are ``feed``'s.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from logloom.config.load import Config
from logloom.detect.baseline import BASELINE_FILE, BaselineError, load_active, stage_archive
from logloom.detect.monitoring import LearnHook, learn_baseline, make_scorer
from logloom.detect.scoring import Scorer
from logloom.errors import InputError, LogloomError, OutputError
from logloom.lifecycle.feed import GC_YOUNG_THRESHOLD, Blocks, file_size, long_run_gc
from logloom.lifecycle.resume import (
    Segment,
    SourcePlan,
    check_engine_state,
    latest_state,
    plan_source,
    resumed_states,
    source_state,
)
from logloom.outputs.runs import archive_outputs, finish_archive, refuse_output_as_log
from logloom.outputs.state_store import (
    CHECKPOINT,
    SNAPSHOT,
    SNAPSHOT_DIR,
    DataLock,
    ensure_dir,
    lock_holder,
    write_json_atomic,
    write_state,
)
from logloom.parse.lines import parse_log, parse_texts
from logloom.parse.log_parser import ParsedBlock
from logloom.parse.source import is_gzip, open_log
from logloom.parse.stream import is_stdin, is_stream, source_name
from logloom.run import Run, RunOptions
from logloom.stopping import Stop, StopNow, request_stop, stop_on_signals
from logloom.ui import UI, Bar

__all__ = ["GC_YOUNG_THRESHOLD", "RunOptions", "check_readable", "file_size", "monitor", "open_log", "parse_log",
           "parse_texts", "record", "request_stop", "resumed_states", "tell_running_monitor"]

FOLLOW_POLL_S = 0.1


def check_readable(path: Path) -> None:
    """Raise InputError (exit 2) unless ``path`` is a readable file (or a stream)."""
    if not is_stream(path):
        open_log(path).close()


# -- monitor ------------------------------------------------------------------------------
@dataclass
class _Context:
    """What the loop needs beside the run and the blocks."""

    config: Config
    options: RunOptions
    live: Path
    ui: UI
    stop: Stop
    baseline: BaselineWatch
    bar: Bar | None = None


def monitor(config: Config, options: RunOptions, ui: UI) -> tuple[dict[str, Any], Scorer | None]:
    """Process the source from the last checkpoint; write metrics and score them.

    Returns the run summary and the scorer (None without an active baseline).
    Parts of the source that could not be read are listed in the summary's ``gaps``.
    """
    data_dir = options.data_dir
    log = options.logs[0] if options.logs else data_dir / "machine_logs.txt"
    run: Run | None = None
    try:
        with DataLock(data_dir), long_run_gc():
            check_readable(log)
            refuse_output_as_log(data_dir, log)
            _archive_runs(data_dir, options.from_start, ui)
            saved = latest_state(data_dir, ui.notify)
            if is_stream(log):
                plan = SourcePlan([Segment(log, 0)], [
                    f"{source_name(log) if is_stdin(log) else log}: a stream, read as it comes to its end; "
                    "there is no resume for a stream: lines it sends while no monitor runs are not read "
                    "(the components' states carry over)"])
            else:
                plan = plan_source(saved, log, options.rotated)
            for notice in plan.notices:
                ui.notify(notice)
            if plan.gap:
                ui.warn(plan.gap)
            check_engine_state(saved, config, data_dir / CHECKPOINT, ui.notify)
            watch = BaselineWatch(data_dir)
            scorer = _active_scorer(config, data_dir, ui)
            run = Run(config, data_dir, options, saved=saved, scorer=scorer)
            if saved:
                run.checkpointed = (int(saved["source"]["line_no"]), str(saved["written_at"]))
            run.source_name = source_name(log)
            with stop_on_signals() as stop:
                ctx = _Context(config, options, log, ui, stop, watch)
                for i, segment in enumerate(plan.segments):
                    _read(run, segment, ctx, last=i == len(plan.segments) - 1)
                    if stop.requested:
                        break
            pending = file_size(log) - run.offset
            if pending > 0 and not options.follow and not stop.requested:
                ui.notify(f"{log}: {pending} bytes after the last complete line are left for the next run "
                          "(a line without its newline yet)")
            summary = {**run.summary([str(log)]), "gaps": [plan.gap] if plan.gap else []}
            write_json_atomic(data_dir / "run_summary.json", summary)
            run.close()
            return summary, run.scoring.scorer if run.scoring else None
    except OutputError as exc:
        raise OutputError(f"{exc}; {_outputs_state(run)}") from None


def _archive_runs(data_dir: Path, from_start: bool, ui: UI) -> None:
    """Complete an interrupted ``--from-start``; with ``from_start``, archive the outputs now."""
    for done in finish_archive(data_dir):
        ui.notify(f"an interrupted --from-start is now complete: the outputs it moved are in {done}")
    if from_start:
        moved = archive_outputs(data_dir)
        ui.notify(f"--from-start: the previous outputs and checkpoint are in {moved}; processing afresh"
                  if moved else "--from-start: no earlier outputs to archive; processing afresh")


def _read(run: Run, segment: Segment, ctx: _Context, *, last: bool) -> None:
    """One file of the plan: a rotated one to its end, or the live one (followed if asked)."""
    follow = ctx.options.follow and last
    run.offset = segment.offset
    try:
        with ctx.stop.interruptible():  # opening a FIFO waits for its writer
            blocks = Blocks(ctx.config, ctx.options, ctx.live, segment, run.parser_last, ctx.ui.notify,
                            take_partial=not last, follow=follow)
    except StopNow:
        return
    try:
        size = None if follow or blocks.stream or is_gzip(segment.path) else file_size(segment.path) - segment.offset
        with ctx.ui.progress(f"monitor {run.source_name}", size) as bar:
            ctx.bar = bar
            _loop(run, blocks, ctx)
    finally:
        blocks.close()


def _outputs_state(run: Run | None) -> str:
    """What an environment failure left: true whatever the moment it struck."""
    if run is None:
        return "nothing was written; the outputs are as the last run left them"
    if run.checkpointed is None:
        return ("no checkpoint was written yet: the next monitor starts over from the log's start and "
                "writes the outputs again")
    line, when = run.checkpointed
    return (f"the outputs stand as of the last checkpoint ({when}, after line {line}); once the problem is fixed, "
            "the next monitor cuts what was written after it and continues from there")


class BaselineWatch:
    """Notices a newly activated baseline (``record`` or ``baseline activate`` while
    this monitor runs): process_baseline.json replaced."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / BASELINE_FILE
        self.seen = self._signature()

    def _signature(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size

    def changed(self) -> bool:
        now = self._signature()
        if now == self.seen:
            return False
        self.seen = now
        return now is not None


def _switch_baseline(run: Run, ctx: _Context) -> bool:
    """Score against the newly active baseline from the next line on; False if it cannot be read."""
    try:
        baseline = load_active(ctx.options.data_dir)
    except BaselineError as exc:
        ctx.ui.warn(f"a new active baseline could not be read, scoring goes on as before: {exc}")
        return False
    if baseline is None:
        return False
    run.set_scorer(make_scorer(ctx.config, baseline))
    ctx.ui.warn(f"{baseline.get('id')} was activated: scoring against it from line {run.line_no + 1} on")
    return True


def _loop(run: Run, blocks: Blocks, ctx: _Context) -> None:
    """Feed blocks until the end (or, following, until a signal); checkpoint every so often."""
    data_dir, stop = ctx.options.data_dir, ctx.stop
    # the file the latest block came from (the tail may have moved on to the next one since)
    where = blocks.position(run.offset)

    def checkpoint() -> None:
        run.flush(sync=True)
        source = source_state(ctx.live, *where, run.offset, run.line_no)
        state = run.state(source)
        write_state(data_dir / CHECKPOINT, state)
        run.committed()
        run.checkpointed = (run.line_no, state["written_at"])

    def switch_if_activated() -> None:
        if ctx.baseline.changed() and _switch_baseline(run, ctx):
            checkpoint()  # the new baseline's state, from here on

    parsed: ParsedBlock | None = None
    incoming = iter(blocks)
    try:
        last = time.monotonic()
        saved_at = (blocks.identity, run.offset)
        while True:
            try:
                with stop.interruptible():
                    parsed = next(incoming)
            except (StopIteration, StopNow):
                parsed = None
                break
            except OSError as exc:
                raise InputError(f"{blocks.file}: cannot read ({exc.strerror or exc})") from None
            if parsed is None:  # following, and nothing new yet: make the position durable
                if (blocks.identity, blocks.tail.offset) != saved_at:
                    run.offset = blocks.tail.offset  # a rotation or truncation moved it
                    where = blocks.position(run.offset)
                    checkpoint()
                    last, saved_at = time.monotonic(), (blocks.identity, run.offset)
                if stop.requested:
                    break
                switch_if_activated()
                if not blocks.stream:  # a stream waits for data itself
                    time.sleep(FOLLOW_POLL_S)
                continue
            before = run.offset
            run.feed(parsed)
            where = blocks.position(run.offset)
            if ctx.bar is not None:
                ctx.bar.advance(max(0, run.offset - before))
            for warning in run.warnings:
                ctx.ui.warn(warning)
            run.warnings.clear()
            parsed = None
            if stop.requested:
                break
            if time.monotonic() - last >= ctx.options.checkpoint_every:
                checkpoint()
                last, saved_at = time.monotonic(), (blocks.identity, run.offset)
                switch_if_activated()
    except (LogloomError, StopNow):
        raise  # the user's or the environment's: the last checkpoint stands
    except Exception as exc:
        offset = run.offset
        if parsed is not None:
            if not blocks.stream:  # a stream's offset is never read back
                offset = run.processed_offset(parsed, blocks.read_range)
            run.rewind(parsed)
        source = source_state(ctx.live, *blocks.position(offset), offset, run.line_no)
        exc.add_note(_crash_snapshot(run, data_dir, source))
        raise
    checkpoint()


def _crash_snapshot(run: Run, data_dir: Path, source: dict[str, Any]) -> str:
    """Scenario A: flush what was produced and save the state at the last whole line.

    Returns what happened, for the error's report.
    """
    snapshot = data_dir / SNAPSHOT_DIR / SNAPSHOT
    try:
        run.flush(sync=True)
        ensure_dir(snapshot.parent)
        write_state(snapshot, run.state(source))
        run.committed()
    except Exception as exc:  # never hide the original failure behind a second one
        return f"no crash snapshot could be written ({exc}); the last checkpoint stands"
    return f"the state after line {run.line_no} was saved to {snapshot}; the next monitor resumes from it"


def tell_running_monitor(data_dir: Path, baseline_id: str, say: Callable[[str], None]) -> None:
    """After ``record`` or ``baseline activate``: whether a monitor runs on ``data_dir``,
    and that it switches to ``baseline_id``."""
    holder = lock_holder(data_dir)
    if holder is not None:
        pid = f" (pid {holder})" if holder > 0 else ""
        say(f"a monitor is running on {data_dir}{pid}: it scores against {baseline_id} from its next "
            "checkpoint on (within a second or so) and says so")


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
    ui.notify(f"scoring against {baseline.get('id')} (the active baseline)")
    return make_scorer(config, baseline)


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
    with stage_archive(data_dir) as stage, long_run_gc(), stop_on_signals() as stop:
        run = Run(config, stage.path, options)
        for log in logs:
            run.source_name, run.line_no = source_name(log), 0
            _record_one(run, log, config, options, ui, stop)
        run.close()
        summary = run.summary([str(p) for p in logs])
        write_json_atomic(stage.path / "run_summary.json", summary)
        baseline = learn_baseline(learn.accumulator, config, [str(p) for p in logs])
        if not baseline["metrics"]:
            raise InputError(f"{', '.join(map(str, logs))}: no metric rows were produced; nothing to learn "
                             "(check the patterns with `logloom parse`)")
        baseline_id = stage.commit(baseline)
    return baseline_id, load_active(data_dir) or baseline, summary


def _record_one(run: Run, log: Path, config: Config, options: RunOptions, ui: UI, stop: Stop) -> None:
    """Feed one log to ``run`` from its start; a stream (FIFO, device) as it comes."""
    interrupted = InputError("record interrupted; no baseline was archived")
    try:
        with stop.interruptible():  # opening a FIFO waits for its writer
            blocks = Blocks(config, options, log, Segment(log, 0), None, ui.notify, take_partial=True)
    except StopNow:
        raise interrupted from None
    try:
        size = None if blocks.stream or is_gzip(log) else file_size(log)
        with ui.progress(f"record {run.source_name}", size) as bar:
            incoming = iter(blocks)
            while True:
                try:
                    with stop.interruptible():
                        parsed = next(incoming)
                except StopIteration:
                    break
                except StopNow:
                    raise interrupted from None
                except OSError as exc:
                    raise InputError(f"{log}: cannot read ({exc.strerror or exc})") from None
                if parsed is not None:  # None: a stream with nothing new yet
                    run.feed(parsed)
                    bar.advance(parsed.end - parsed.start)
                if stop.requested:
                    raise interrupted
    finally:
        blocks.close()
