"""One simulation run: plan pallets, merge their events in time, write the four files.

``simulate(out, options)`` streams: a small heap holds only the events of the
pallets still inside the line, and each output is written from a buffer that is
drained every few hundred pallets, so memory stays flat however long the log.
Per event it decides, in this order and from the emission random stream: whether to
hold it back one line (out-of-order), to drop it, to write a finish line without its
station (sparse), and which noise or garbage lines follow it.
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from logloom.records import METRICS_HEADER
from logloom.simulator.model import LineModel, load_model
from logloom.simulator.options import SimOptions
from logloom.simulator.plan import Plan
from logloom.simulator.schedule import Item, LineSim
from logloom.simulator.texts import Clock, NoiseWriter, check_patterns, garbage_line
from logloom.simulator.truth import Truth

ANOMALIES_HEADER = "timestamp,component_id,metric_name,kind,factor"
AFFECTED_HEADER = "timestamp,component_id,state_context"
_FLUSH_EVERY = 512  # pallets
_BUFFER = 1 << 20


@dataclass(frozen=True)
class SimSummary:
    """What a run wrote."""

    log: Path
    truth: Path
    anomalies: Path
    affected: Path
    lines: int
    event_lines: int
    noise_lines: int
    garbage_lines: int
    dropped_lines: int
    sparse_lines: int
    swapped_lines: int
    pallets: int
    truth_rows: int
    anomaly_rows: int
    affected_rows: int


def side_paths(out: Path) -> tuple[Path, Path, Path]:
    """``<out>.truth.csv``, ``<out>.anomalies.csv``, ``<out>.affected.csv``."""
    def beside(suffix: str) -> Path:
        return out.with_name(out.name + suffix)

    return beside(".truth.csv"), beside(".anomalies.csv"), beside(".affected.csv")


def simulate(out: Path, options: SimOptions,
             progress: Callable[[int], None] | None = None) -> SimSummary:
    """Write the simulated log to ``out`` and its ground truth beside it.

    ``progress`` is called now and then with the pallets (``--cycles``) or lines
    (``--lines``) done so far. Raises SimError for unusable options or configs.
    """
    options.check()
    model = load_model(options.config_dir)
    sparse_type = check_patterns(options.config_dir, model)
    seed = options.seed
    fault_rng = _stream(seed, "faults")  # whether and how: one stream, as in the reference
    plan = Plan(model, options.injections, random_spikes=options.random_spikes,
                faults=options.faults, cycles=options.cycles,
                spike_rng=_stream(seed, "spikes"), fault_rng=fault_rng)
    line = LineSim(model, plan, seed, fault_rng)
    wanted = options.consequences and plan.scales
    reference = _reference_line(model, options) if wanted else None
    truth_path, anomalies_path, affected_path = side_paths(out)
    with (
        _open(out) as log,
        _open(truth_path) as truth_file,
        _open(anomalies_path) as anomalies_file,
        _open(affected_path) as affected_file,
    ):
        truth_file.write(METRICS_HEADER + "\n")
        anomalies_file.write(ANOMALIES_HEADER + "\n")
        affected_file.write(AFFECTED_HEADER + "\n")
        emitter = _Emitter(model, options, sparse_type, (log, truth_file, anomalies_file,
                                                          affected_file))
        emitter.run(line, progress, reference)
    counts = emitter.counts
    return SimSummary(out, truth_path, anomalies_path, affected_path, **counts)


def _reference_line(model: LineModel, options: SimOptions) -> LineSim:
    """The same line without the scaling anomalies (faults kept): the undisturbed run."""
    faults = tuple(i for i in options.injections if i.kind == "fault")
    fault_rng = _stream(options.seed, "faults")
    plan = Plan(model, faults, random_spikes=0.0, faults=options.faults, cycles=options.cycles,
                spike_rng=_stream(options.seed, "spikes"), fault_rng=fault_rng)
    return LineSim(model, plan, options.seed, fault_rng)


def _stream(seed: int, purpose: str) -> random.Random:
    return random.Random(f"logloom-simulate:{seed}:{purpose}")


def _open(path: Path) -> IO[str]:
    return path.open("w", encoding="utf-8", errors="surrogateescape", newline="\n",
                     buffering=_BUFFER)


class _Done(Exception):
    """--lines reached."""


class _Emitter:
    """Turns the time-ordered events into lines, applying the emission options.

    The hot path: one call of ``_emit`` per event line, so options are read once here.
    """

    def __init__(self, model: LineModel, options: SimOptions, sparse_type: str | None,
                 files: tuple[IO[str], IO[str], IO[str], IO[str]]) -> None:
        self._files = files
        self._model = model
        self._clock = Clock(options.start)
        tracking = options.drop > 0 or (options.ambiguous_sparse and options.sparse > 0)
        self._truth = Truth(model, self._clock, track_engine=tracking)
        self._tracking = tracking
        self._rng = _stream(options.seed, "emission")
        self._noise = NoiseWriter(_stream(options.seed, "noise"))
        self._garbage_rng = _stream(options.seed, "garbage")
        self._drop, self._sparse, self._disorder = options.drop, options.sparse, options.disorder
        self._noise_ratio, self._extra = options.noise, options.noise + options.garbage
        self._ambiguous = options.ambiguous_sparse
        self._cycles = options.cycles
        self._candidates = [c.index for c in model.components
                            if sparse_type is None or c.type == sparse_type]
        self._buffer: list[str] = []
        # Lines the buffer may hold before --lines is reached (never, without --lines).
        self._room = options.lines if options.lines else -1
        self._apply, self._stamp, self._random = self._truth.apply, self._clock.log, self._rng.random
        self._held: Item | None = None
        self._held_bound = 0
        self._dropped = self._sparse_lines = self._swapped = self._noise_lines = 0
        self._garbage_lines = 0
        self.counts = dict(lines=0, event_lines=0, noise_lines=0, garbage_lines=0,
                           dropped_lines=0, sparse_lines=0, swapped_lines=0, pallets=0,
                           truth_rows=0, anomaly_rows=0, affected_rows=0)

    def run(self, line: LineSim, progress: Callable[[int], None] | None,
            reference: LineSim | None) -> None:
        """Plan pallet after pallet and write every event once no later pallet can precede it.

        With a ``reference`` line (the run without anomalies), each truth row is compared
        with the undisturbed one and the differences are listed as consequences.
        """
        heap: list[Item] = []
        undisturbed = None
        if reference is not None:
            undisturbed = Truth(self._model, self._clock, track_engine=False)
            undisturbed.collect = [deque() for _ in self._model.components]
            self._truth.reference = undisturbed.collect
        pop, push = heapq.heappop, heapq.heappush
        feed = self._feed if self._disorder else self._emit
        cycles = self._cycles
        pallet = 0
        try:
            while cycles is None or pallet < cycles:
                pallet += 1
                items = line.pallet(pallet)
                if undisturbed is not None and reference is not None:
                    for item in reference.pallet(pallet):
                        undisturbed.apply(item[2], item[3], item[0], item[6], None)
                first = items[0][0]
                while heap and heap[0][0] < first:
                    item = pop(heap)
                    feed(item, min(heap[0][0], first) if heap else first)
                for item in items:
                    push(heap, item)
                if pallet % _FLUSH_EVERY == 0:
                    self._flush(pallet)
                    if progress is not None:
                        progress(pallet if cycles else self.counts["lines"])
            while heap:
                item = pop(heap)
                feed(item, heap[0][0] if heap else item[0])
            self._release_held()
        except _Done:
            pass
        self._flush(pallet)
        if progress is not None:
            progress(pallet if cycles else self.counts["lines"])

    def _feed(self, item: Item, bound: int) -> None:
        """Hold a line back (out-of-order) or write it."""
        held = self._held
        if held is None:
            if self._rng.random() < self._disorder:
                self._held, self._held_bound = item, bound
                return
            self._emit(item, bound)
            return
        self._held = None
        if held[2] != item[2]:
            self._swapped += 1
            self._emit(item, bound)
            self._emit(held, bound)
        else:
            self._emit(held, self._held_bound)
            self._emit(item, bound)

    def _release_held(self) -> None:
        if self._held is not None:
            held, self._held = self._held, None
            self._emit(held, self._held_bound)

    def _emit(self, item: Item, bound: int) -> None:
        t, _, comp, event, text, sparse_text, fields, droppable, marks = item
        if droppable and self._drop and self._rng.random() < self._drop:
            self._dropped += 1
            self._truth.line(comp, event, t, fields, marks, None)
            return
        target: int | None = comp
        if sparse_text is not None and self._sparse and self._rng.random() < self._sparse:
            winner = self._truth.route(event, self._candidates)
            if winner == comp or self._ambiguous:
                text, target = sparse_text, winner
                self._sparse_lines += 1
        if self._tracking:
            self._truth.line(comp, event, t, fields, marks, target)
        else:
            self._apply(comp, event, t, fields, marks)
        buffer = self._buffer
        buffer.append(f"{self._stamp(t)} {text}\n")
        if len(buffer) == self._room:
            raise _Done
        if self._extra and self._random() < self._extra:
            self._extras(t, bound)

    def _extras(self, t: int, bound: int) -> None:
        """Noise and garbage lines after a written line, timed before ``bound``.

        Called once the first extra line is drawn; each further one follows with the
        chance ``noise + garbage``, so that is their share of all lines.
        """
        noise, extra, rng, buffer = self._noise_ratio, self._extra, self._rng, self._buffer
        while True:
            if rng.random() * extra < noise:
                if bound > t:
                    t += int(rng.random() * (bound - t) * 0.5)
                self._noise_lines += 1
                buffer.append(f"{self._clock.log(t)} {self._noise.message()}\n")
            else:
                self._garbage_lines += 1
                buffer.append(garbage_line(self._garbage_rng) + "\n")
            if len(buffer) == self._room:
                raise _Done
            if rng.random() >= extra:
                return

    def _flush(self, pallets: int) -> None:
        log, truth_file, anomalies_file, affected_file = self._files
        truth, counts = self._truth, self.counts
        counts["lines"] += len(self._buffer)
        if self._room > 0:
            self._room -= len(self._buffer)
        log.write("".join(self._buffer))
        self._buffer.clear()
        for buffer, handle, key in ((truth.rows, truth_file, "truth_rows"),
                                    (truth.anomalies, anomalies_file, "anomaly_rows"),
                                    (truth.affected, affected_file, "affected_rows")):
            counts[key] += len(buffer)
            handle.write("".join(buffer))
            buffer.clear()
        counts.update(pallets=pallets, noise_lines=self._noise_lines,
                      garbage_lines=self._garbage_lines, dropped_lines=self._dropped,
                      sparse_lines=self._sparse_lines, swapped_lines=self._swapped)
        counts["event_lines"] = counts["lines"] - self._noise_lines - self._garbage_lines
