"""One pass of the pipeline: parsed blocks -> engine -> sinks, with the state to resume.

``Run`` takes ``ParsedBlock``s (from the serial ``BlockParser`` or the parse worker),
rebuilds each line's Event, steps the engine, scores rows and groups the anomalies
into incidents when a scorer is given, and writes rows, anomalies, incidents and
rejected lines. ``state`` is what a checkpoint needs to continue exactly where it
stopped; ``rewind`` is how a crash gets back to the last fully processed line.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from logloom.config.load import Config
from logloom.detect.clock import ClockWatch
from logloom.detect.clock import describe as describe_step
from logloom.detect.clock import step_anomaly as clock_anomaly
from logloom.detect.monitoring import BlockPauses, ScoringHook, make_tracker
from logloom.detect.scoring import Mark, Scorer
from logloom.engine.engine import Engine
from logloom.errors import StateFileError
from logloom.logtime.timestamps import TimeFormatter, TimestampParser
from logloom.outputs.parquet_options import PalletTap, ParquetOptions, open_parquet_sink
from logloom.outputs.sinks import AnomalySink, IncidentSink, MetricsSink, RejectedSink
from logloom.outputs.state_store import CHECKPOINT, SCHEMA_VERSION
from logloom.parse.log_parser import EventTable, ParsedBlock
from logloom.records import Anomaly, Observer, Progress, Rows

if TYPE_CHECKING:
    from logloom.outputs.parquet import ParquetSink

CHECKPOINT_EVERY_S = 1.0
STAT_KEYS = ("lines_read", "malformed", "unmatched", "events", "rows_written", "anomalies",
             "time_back_steps", "time_back_lines")


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
    parallel: bool | None = None  # None: a parse worker for large files when there are 2+ cores
    from_start: bool = False  # monitor: archive the outputs and checkpoint, process afresh
    rotated: list[str] = field(default_factory=list)  # globs of rotated files beside the usual names
    observers: list[Observer] = field(default_factory=list)
    parquet: ParquetOptions | None = None  # also write the rows as a Parquet dataset


class Sink(Protocol):
    def flush(self, *, sync: bool = False) -> None: ...
    def lengths(self) -> dict[str, int]: ...
    def close(self) -> None: ...


@dataclass
class _BlockStart:
    """The state before a block: what ``rewind`` restores after a failure inside it."""

    engine: dict[str, Any]
    stats: dict[str, int]
    detection: dict[str, Any] | None
    line_no: int
    clock: dict[str, Any] = field(default_factory=dict)


class Run:
    """One pass over one or more sources, writing into ``out_dir``.

    Owns the engine, the sinks, the counters and the position (line number, byte
    offset and the timestamp parser's memory after the last processed block).
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
        self.engine = Engine(config, strict=options.strict, observers=options.observers)
        self.observers = options.observers
        self._on_block = [o for o in self.observers if type(o).on_block is not Observer.on_block]
        self._wanted = [o.wants_changes for o in self.observers]
        self.scoring = ScoringHook(scorer, make_tracker(config, self.observers)) if scorer is not None else None
        if self.scoring is not None:
            self.engine.observers = [self.scoring, *self.engine.observers]
            self.scoring.scorer.watch(self.engine.components)
        ts_spec = TimestampParser(config.patterns.timestamp.format, config.patterns.timestamp.timezone)
        self.format_ts = TimeFormatter(options.time_format, tz=ts_spec.tz, instants=ts_spec.has_instants)
        lengths = saved["outputs"] if saved else None
        tails = saved.get("output_tails") if saved else None
        # the metrics sink keeps its own last-timestamp cache per batch of rows
        self.metrics = MetricsSink(out_dir, self.format_ts, options.max_part_mb * 1_000_000, lengths,
                                   tails=tails)
        self.rejected = RejectedSink(out_dir, lengths, tails)
        self.anomalies = AnomalySink(out_dir, self.format_ts, lengths, tails) if scorer is not None else None
        opened = self.scoring.tracker.open_incidents if self.scoring and self.scoring.tracker else None
        self.incidents = IncidentSink(out_dir, self.format_ts, opened, lengths, tails) if opened else None
        self.parquet: ParquetSink | None = None
        self._pallets: PalletTap | None = None
        if options.parquet is not None:
            log = options.logs[0] if options.logs else Path("machine_logs.txt")
            self.parquet = open_parquet_sink(options.parquet, log, options.follow, out_dir, self.format_ts.tz, lengths)
            self._pallets = PalletTap(self.engine.by_id)
            self.engine.observers = [*self.engine.observers, self._pallets]
        self.table = EventTable()
        self.stats = dict.fromkeys(STAT_KEYS, 0)
        self.line_no = 0
        self.offset = 0
        self.parser_last: int | None = None
        self.source_name = ""
        self.started = time.monotonic()
        self.resumed_from: str | None = saved["written_at"] if saved else None
        self._block_start = _BlockStart({}, {}, None, 0)
        self.clock = ClockWatch()
        self.warnings: list[str] = []  # for the console (main shows and clears them)
        self.checkpointed: tuple[int, str] | None = None  # (line, written_at) of the latest checkpoint
        if saved:
            self.clock.restore(saved.get("clock"))
            self.engine.load_state(saved["engine"])
            self.stats.update({k: int(saved["stats"].get(k, 0)) for k in STAT_KEYS})
            self.line_no = int(saved["source"]["line_no"])
            last = saved.get("parser", {}).get("last_ts")
            self.parser_last = None if last is None else int(last)
            try:
                if self.scoring is not None:
                    self.scoring.restore(saved)
            except ValueError as exc:
                raise StateFileError(f"{CHECKPOINT}: {exc}; move it aside to start over") from None
        self._at_start = {**self.stats, **self.engine.counters}
        self._report(None)

    # -- the loop ----------------------------------------------------------------------------
    def feed(self, parsed: ParsedBlock) -> None:
        """Process every line of ``parsed`` in order.

        If a line raises, the exception propagates with ``line_no`` at the last fully
        processed line; ``rewind`` then restores the state after that line.
        """
        self._block_start = _BlockStart(self.engine.state_dict(), dict(self.stats),
                                        self.scoring.state() if self.scoring else None, self.line_no,
                                        self.clock.to_dict())
        self.table.update(parsed)
        rows = self._process(parsed, parsed.lines, write=True)
        self.offset = parsed.end
        self.parser_last = parsed.last_ts
        self._report(rows)

    def _report(self, rows: Rows | None) -> None:
        """``on_block`` of the observers that aggregate: this block's rows, counters, states."""
        if self._on_block:
            last = self.parser_last  # the timestamp parser's memory: the time of the latest line read
            newest = last if last is not None and last > _NO_TIME else None
            progress = Progress(list(rows or ()), newest, {**self.stats, **self.engine.counters},
                                self.engine.statuses())
            for obs in self._on_block:
                obs.on_block(progress)
            wanted = [o.wants_changes for o in self.observers]
            if wanted != self._wanted:  # an observer stopped or started wanting state changes
                self._wanted = wanted
                self.engine.observers = self.engine.observers

    def rewind(self, parsed: ParsedBlock) -> None:
        """Make the state exactly that after the last fully processed line of ``parsed``.

        The failing line may have changed the engine half-way: the block's start state
        is restored and the lines before it are replayed. Their rows and rejects were
        written the first time; their anomalies are written now, scored from the
        restored state (the first pass's engine had the failing line's half step).
        """
        start = self._block_start
        done = self.line_no - start.line_no
        self.engine.load_state(start.engine)
        self.stats = dict(start.stats)
        self.line_no = start.line_no
        self.clock.restore(start.clock)
        if self.scoring is not None and start.detection is not None:
            self.scoring.restore(start.detection, tallies=True)
        observers = self.engine.observers
        self.engine.observers = [self.scoring] if self.scoring is not None else []
        try:
            self._process(parsed, done, write=False)
        finally:
            self.engine.observers = observers

    def _process(self, parsed: ParsedBlock, count: int, *, write: bool) -> Rows:
        """The first ``count`` lines through the engine's hot loop (``Engine.step_events``);
        returns their rows.

        Rows (and rejects, when ``write``) and anomalies are written once, at the end,
        and only those of fully processed lines: a line that raises leaves nothing
        behind to be duplicated. Its block's anomalies are left to ``rewind``, which
        scores the block again from its start state. Stuck visits are looked for on
        the way only when the log's time leaves the scorer's window; a burst the
        engine's hook finds waits in ``pending`` until its line is done (``BlockPauses``).
        """
        engine = self.engine
        resolved = self.table.resolved(engine.resolve)
        index, codes, times = parsed.index, parsed.codes, parsed.times
        todo = len(index) if count >= parsed.lines else bisect_left(index, count)
        scoring = self.scoring
        start = self.line_no
        steps, behind = self.clock.scan(np.frombuffer(times, dtype=np.int64)[:todo],
                                        np.frombuffer(index, dtype=f"i{index.itemsize}")[:todo], start + 1)
        at_steps = {s.index: clock_anomaly(s, self.source_name) for s in steps} if scoring is not None else {}
        marks: list[Mark] = []  # stuck, burst and time_back (the loop pauses before those) anomalies
        pauses = None
        if scoring is not None:
            scoring.begin_block(times, index, todo, start + 1)
            pauses = BlockPauses(scoring, marks, index, start + 1)
        rows_out = Rows(engine.series)
        at, events = times.tolist(), codes.tolist()  # the engine reads lists fastest
        done = count  # lines fully processed
        engine.failed_at = -1
        lo = 0
        try:
            for hi in [*at_steps, todo]:
                engine.step_events(rows_out, at, events, resolved, lo, hi, pauses)
                if hi in at_steps:
                    marks.append((start + index[hi] + 1, -1, len(rows_out), at_steps[hi]))
                lo = hi
        except BaseException:
            k = engine.failed_at if engine.failed_at >= 0 else lo
            done = index[k]  # the failing line was not fully processed: none of its rows count
            if scoring is not None:
                scoring.pending.clear()
            self._finish(parsed, rows_out, None, write, k, done)
            raise
        found = scoring.scorer.score_block(rows_out, marks) if scoring is not None else []
        self._finish(parsed, rows_out, found, write, todo, done)
        self.stats["time_back_steps"] += len(steps)
        self.stats["time_back_lines"] += behind
        if write:
            self.warnings += [describe_step(s, self.source_name) for s in steps]
        return rows_out

    def _finish(self, parsed: ParsedBlock, rows: Rows, found: list[tuple[int, Anomaly]] | None, write: bool,
                events: int, done: int) -> None:
        """Write and count what the first ``done`` lines of ``parsed`` gave (``events`` of them events)."""
        rejects = sorted(i for i in parsed.rejects if i < done)
        if write and rejects:
            source, start, reject = self.source_name, self.line_no, self.rejected.reject
            for i in rejects:
                reason, text = parsed.rejects[i]
                reject(source, start + i + 1, reason, text)
        self._account(rows, found, write, (events, done - events - len(rejects), len(rejects), done))
        self.line_no += done

    def _account(self, rows: Rows, found: list[tuple[int, Anomaly]] | None, write: bool,
                 counts: tuple[int, int, int, int]) -> None:
        """Write a block's rows (when ``write``), anomalies and the incidents they close;
        count them. ``found`` None: the block failed, its anomalies are left to ``rewind``."""
        anomalies = [a for _, a in found] if found else []
        if write and rows:
            self.metrics.write_rows(rows)
            if self.parquet is not None and self._pallets is not None:
                self.parquet.write_rows(rows, self._pallets.take(len(rows)))
        if anomalies:
            self._emit_anomalies(anomalies)
        if found is not None and self.scoring is not None and self.incidents is not None:
            self.incidents.write_incidents(self.scoring.incidents(rows, found))
        stats = self.stats
        stats["rows_written"] += len(rows)
        stats["anomalies"] += len(anomalies)
        for key, n in zip(("events", "unmatched", "malformed", "lines_read"), counts, strict=True):
            stats[key] += n

    def _emit_anomalies(self, found: list[Anomaly]) -> None:
        assert self.anomalies is not None
        self.anomalies.write_anomalies(found)
        for obs in self.observers:
            for a in found:
                obs.on_anomaly(a)

    def processed_offset(self, parsed: ParsedBlock, read_range: Callable[[int, int], bytes]) -> int:
        """Byte offset after the last fully processed line of ``parsed`` (read back from the file)."""
        done = self.line_no - self._block_start.line_no
        if done <= 0:
            return parsed.start
        raw = read_range(parsed.start, parsed.end - parsed.start)
        return min(parsed.start + sum(len(line) + 1 for line in raw.split(b"\n")[:done]), parsed.end)

    # -- outputs and state ---------------------------------------------------------------------
    def _sinks(self) -> list[Sink]:
        sinks: list[Sink] = [s for s in (self.metrics, self.rejected, self.anomalies, self.incidents)
                             if s is not None]
        return [*sinks, self.parquet] if self.parquet is not None else sinks

    def flush(self, *, sync: bool = False) -> None:
        for sink in self._sinks():
            sink.flush(sync=sync)

    def output_lengths(self) -> dict[str, int]:
        return {name: n for sink in self._sinks() for name, n in sink.lengths().items()}

    def output_tails(self) -> dict[str, str]:
        """A digest of each CSV output's last bytes (the checkpoint's check against edits)."""
        text = (self.metrics, self.rejected, self.anomalies, self.incidents)
        return {n: d for s in text if s for n, d in s.tails().items()}

    def committed(self) -> None:
        """The state of ``state()`` is durable: files it no longer needs may go."""
        if self.parquet is not None:
            self.parquet.committed()

    def state(self, source: dict[str, Any]) -> dict[str, Any]:
        """A checkpoint of everything processed so far (flush first)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "written_at": datetime.now(UTC).isoformat(),
            "config_sha256": self.config.sha256,
            "source": source,
            "parser": {"last_ts": self.parser_last},
            "engine": self.engine.state_dict(),
            **(self.scoring.state() if self.scoring else {"scorer": None, "incidents": None}),
            "outputs": self.output_lengths(),
            "output_tails": self.output_tails(),
            "stats": dict(self.stats),
            "clock": self.clock.to_dict(),
        }

    def summary(self, sources: list[str]) -> dict[str, Any]:
        """Totals since the outputs began (resumed runs add up), and ``this_run``'s share."""
        wall = time.monotonic() - self.started
        totals = {**self.stats, **self.engine.counters}
        this_run = {k: n - self._at_start.get(k, 0) for k, n in totals.items()}
        return {
            "sources": sources,
            **totals,
            "components": self.engine.component_counters(),
            "wall_time_s": round(wall, 3),
            "lines_per_second": round(this_run["lines_read"] / wall, 1) if wall > 0 else None,
            "outputs": [p.name for p in self.metrics.paths()],
            **({"parquet": [str(p) for p in self.parquet.paths()]} if self.parquet is not None else {}),
            "resumed_from": self.resumed_from,
            "this_run": this_run,
            "baseline": self.scoring.scorer.baseline_id if self.scoring else None,
        }

    def set_scorer(self, scorer: Scorer) -> None:
        """Score against ``scorer``'s (newly activated) baseline from now on; anomalies.csv begun if need be."""
        old = self.scoring
        self.scoring = old.switched(scorer) if old else ScoringHook(scorer, make_tracker(self.config, self.observers))
        self.engine.observers = [self.scoring, *(o for o in self.engine.observers if o is not old)]
        scorer.watch(self.engine.components)
        if self.anomalies is None:
            self.anomalies = AnomalySink(self.out_dir, self.format_ts)
        if self.incidents is None and self.scoring.tracker is not None:
            self.incidents = IncidentSink(self.out_dir, self.format_ts, self.scoring.tracker.open_incidents)

    def close(self) -> None:
        for sink in self._sinks():
            sink.close()
        for obs in self.observers:
            obs.close()


_NO_TIME = -(1 << 61)  # below it, the parser's memory holds no time read yet
