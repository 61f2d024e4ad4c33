"""When things happen: pallets flowing through conveyors and stations, as timed events.

``LineSim.pallet(p)`` plans pallet ``p``'s whole trip through the line and returns its
events in causal order. Stations block like a real flow line: a conveyor delivers
only to an empty station, and a station releases only onto an empty conveyor, so
the stations work concurrently on successive pallets and their events interleave.

An event is a plain tuple (cheap to create and to order in a heap):
``(t_ms, seq, component_index, event_type, message, sparse_message, fields,
droppable, marks)``; ``seq`` breaks ties in causal order.
"""

from __future__ import annotations

import itertools
import math
import random
from typing import Any

import numpy as np

from logloom.simulator.model import Component, LineModel, Station
from logloom.simulator.plan import Plan, factor_text
from logloom.simulator.texts import FAULT_REASONS, MESSAGES, hundredths, pallet_id
from logloom.simulator.timing import (
    MAX_READINGS,
    ConveyorDraws,
    StationDraws,
    SupplyDraws,
    generator,
    station_profile,
)
from logloom.simulator.truth import value_text

Item = tuple[Any, ...]
_STATION_EVENTS = (
    "PALLET_ARRIVED", "CLAMP_CLOSE", "CLAMP_PRESSURE", "PROCESS_START", "DISPENSE_PRESSURE",
    "DISPENSE_RETRY", "PROCESS_END", "CLAMP_OPEN", "PALLET_RELEASED", "RESET",
)
# --drop leaves out only lines of the regular cycle that change a state: a lost FAULT
# or RESET would leave no path for a jump, a lost reading changes no state.
_DROPPABLE = frozenset(
    ("PALLET_ARRIVED", "CLAMP_CLOSE", "PROCESS_START", "PROCESS_END", "CLAMP_OPEN",
     "PALLET_RELEASED")
)


class ConveyorSim:
    """One conveyor: carries a pallet to the next station once that station is empty."""

    def __init__(self, comp: Component, index: int, plan: Plan, gen: np.random.Generator,
                 seq: itertools.count[int]) -> None:
        self.comp = comp
        self.draws = ConveyorDraws(gen, index)
        self.plan, self.seq = plan, seq
        self.last_stop = 0
        self.downstream: StationSim | None = None
        self._stopped = f"[INFO] {MESSAGES['CONVEYOR_STOP'].format(s=comp.name)}"

    def run(self, pallet: int, ready: int, out: list[Item]) -> int:
        """Carry ``pallet`` (ready at ``ready``); returns when it stops at the next station."""
        idx, draws = self.comp.index, self.draws
        i = draws.take()
        start = max(ready + draws.handover[i], self.last_stop + 1)
        transport = draws.transport[i]
        if self.downstream is not None:
            start = max(start, self.downstream.last_release + self.downstream.handover())
        factor, marks = self.plan.duration(idx, "MOVING", pallet)
        if marks:
            natural = transport
            if factor != 1.0:
                transport = max(1, round(transport * factor))
            marks = _realized(marks, factor, natural, transport)
        stop = start + transport
        moving = MESSAGES["CONVEYOR_START"].format(s=self.comp.name, pallet=pallet_id(pallet))
        out.append((start, next(self.seq), idx, "CONVEYOR_START", f"[INFO] {moving}",
                    None, None, True, None))
        out.append((stop, next(self.seq), idx, "CONVEYOR_STOP", self._stopped,
                    None, None, True, marks))
        self.last_stop = stop
        return stop


class StationSim:
    """One station: arrival, clamp, dispensing (with readings), unclamp, release; faults."""

    def __init__(self, station: Station, index: int, model: LineModel, plan: Plan,
                 gen: np.random.Generator, fault_rng: random.Random,
                 seq: itertools.count[int]) -> None:
        self.station = station
        machine = model.machine_of(station.dispenser)
        # value metric -> its agg, for the fields the station scales
        self._dispense_aggs = _aggs(machine.metrics.get("DISPENSING", ()))
        self._clamp_aggs = (_aggs(model.machine_of(station.clamp).metrics.get("CLOSED", ()))
                            if station.clamp is not None else {})
        self._dispensing_metric = machine.duration_metric("DISPENSING")
        self._error_metric = machine.duration_metric("ERROR")
        self.profile = station_profile(index)
        self.draws = StationDraws(gen, self.profile)
        self._row = self.draws.take()  # the numbers of the pallet to come
        self.plan, self.fault_rng, self.seq = plan, fault_rng, seq
        self.last_release = 0
        self.outfeed: ConveyorSim | None = None
        name = station.name
        self._texts = {e: f"[INFO] {MESSAGES[e].format(s=name, pallet='{pallet}', value='{value}')}"
                       for e in _STATION_EVENTS}
        self._texts["DISPENSE_RETRY"] = f"[WARN] {MESSAGES['DISPENSE_RETRY'].format(s=name)}"
        self._reading_texts = {e: tuple(self._texts[e].split("{value}"))
                               for e in ("CLAMP_PRESSURE", "DISPENSE_PRESSURE")}

    def handover(self) -> int:
        """How long after a release the feeding conveyor starts; drawn with this pallet."""
        return self.draws.handover[self._row]

    def run(self, pallet: int, ready: int, out: list[Item]) -> int:
        """Work ``pallet`` (stopped at the station at ``ready``); returns its release time."""
        plan, d = self.plan, self.draws
        i = self._row
        disp = self.station.dispenser.index
        clamp = self.station.clamp
        pid = pallet_id(pallet)
        a = ready + d.arrival[i]
        c = a + (d.clamp_delay[i] if clamp is not None else 0)
        s = c + d.settle[i]
        ready_factor, ready_marks = plan.duration(disp, "READY_TO_DISPENSE", pallet)
        if ready_marks:
            natural = s - a
            if ready_factor != 1.0:
                c = a + round((c - a) * ready_factor)
                s = max(c, a + max(1, round((s - a) * ready_factor)))
            ready_marks = _realized(ready_marks, ready_factor, natural, s - a)
        self._emit(out, a, disp, "PALLET_ARRIVED", pallet=pid)
        if clamp is not None:
            self._emit(out, c, clamp.index, "CLAMP_CLOSE")
            clamp_factor, clamp_marks = plan.value(clamp.index, "CLOSED", "pressure", pallet)
            readings = d.clamp_readings[i]
            bars = d.clamp_bar[i][:readings]
            for k, value in enumerate(bars):
                at = c + (s - c) * (k + 1) // (readings + 1)
                self._reading(out, at, clamp.index, "CLAMP_PRESSURE", value * clamp_factor)
            clamp_marks = _read(clamp_marks, self._clamp_aggs, bars, clamp_factor)
        self._emit(out, s, disp, "PROCESS_START", marks=ready_marks)
        if plan.fault(disp, pallet):
            s = self._fault_episode(out, pallet, s, i)
        f = self._dispense(out, pallet, s, i)
        o = f + d.open_delay[i]
        r = o + d.release[i]
        # the pallet leaves only onto an empty outfeed conveyor
        free = self.outfeed.last_stop + 1 if self.outfeed is not None else 0
        unclamp_factor, unclamp_marks = plan.duration(disp, "UNCLAMPING", pallet)
        if unclamp_marks:
            natural = max(r, free) - f
            if unclamp_factor != 1.0:
                o = f + round((o - f) * unclamp_factor)
                r = f + max(1, round((r - f) * unclamp_factor))
            unclamp_marks = _realized(unclamp_marks, unclamp_factor, natural, max(r, free) - f)
        if clamp is not None:
            closed_factor, closed_marks = plan.duration(clamp.index, "CLOSED", pallet)
            if closed_marks:
                natural = o - c
                if closed_factor != 1.0:
                    # not before dispensing ends
                    opened = max(f, c + round((o - c) * closed_factor))
                    r = max(r + max(0, opened - o), opened)
                    o = opened
                closed_marks = _realized(closed_marks, closed_factor, natural, o - c)
            self._emit(out, o, clamp.index, "CLAMP_OPEN", marks=_join(closed_marks, clamp_marks))
        r = max(r, free)
        self._emit(out, r, disp, "PALLET_RELEASED", pallet=pid, marks=unclamp_marks)
        self.last_release = r
        self._row = d.take()
        return r

    def _dispense(self, out: list[Item], pallet: int, s: int, i: int) -> int:
        """Readings, maybe a retry, and the finish line; returns the finish time."""
        plan, disp, d = self.plan, self.station.dispenser.index, self.draws
        factor, marks = plan.duration(disp, "DISPENSING", pallet)
        length = max(1, round(d.dispense[i] * factor)) if factor != 1.0 else d.dispense[i]
        marks = _realized(marks, factor, d.dispense[i], length)
        f = s + length
        bar_factor, bar_marks = plan.value(disp, "DISPENSING", "pressure", pallet)
        vol_factor, vol_marks = plan.value(disp, "DISPENSING", "volume", pallet)
        readings = min(MAX_READINGS, max(1, round(length / 4000)))
        jitter, bars = d.jitter[i], d.dispense_bar[i]
        events = [(int(s + length * (2 * k + 1 + 0.6 * jitter[k]) / (2 * readings)),
                   "DISPENSE_PRESSURE", bars[k] * bar_factor) for k in range(readings)]
        if d.retry[i] < self.profile.retry_rate:
            events.append((s + int(length * d.retry_at[i]), "DISPENSE_RETRY", 0.0))
            events.sort(key=lambda e: e[0])
        for at, event, value in events:
            if event == "DISPENSE_RETRY":
                self._emit(out, at, disp, event)
            else:
                self._reading(out, at, disp, event, value)
        volume = max(1, round(d.volume[i] * vol_factor))
        if vol_marks:
            vol_marks = _visible(vol_marks, self._dispense_aggs, [max(1, round(d.volume[i]))],
                                 [volume])
        bar_marks = _read(bar_marks, self._dispense_aggs, bars[:readings], bar_factor)
        self._emit(out, f, disp, "PROCESS_END", value=hundredths(volume),
                   fields=(("volume", volume / 100),), marks=_join(marks, bar_marks, vol_marks))
        return f

    def _fault_episode(self, out: list[Item], pallet: int, s: int, i: int) -> int:
        """FAULT part-way through dispensing, repair, RESET, the pallet re-registered.

        Returns when dispensing starts again.
        """
        rng, disp, d = self.fault_rng, self.station.dispenser.index, self.draws
        share = rng.uniform(0.1, 0.9)
        failed = s + max(1, round(d.dispense[i] * share))
        reading = s + (failed - s) // 2
        self._reading(out, reading, disp, "DISPENSE_PRESSURE", d.dispense_bar[i][-1])
        reason, code = FAULT_REASONS[rng.randrange(len(FAULT_REASONS))]
        text = f"[ERROR] {MESSAGES['FAULT'].format(s=self.station.name, reason=reason, code=code)}"
        share_text = factor_text((failed - s) / d.dispense[i])
        out.append((failed, next(self.seq), disp, "FAULT", text, None, None, False,
                    ((self._dispensing_metric, "fault", share_text),)))
        reset = failed + max(1, round(rng.lognormvariate(math.log(240.0), 0.6) * 1000))
        self._emit(out, reset, disp, "RESET", marks=((self._error_metric, "fault", ""),))
        again = reset + max(1, round(rng.gammavariate(4.0, 0.5) * 1000))
        self._emit(out, again, disp, "PALLET_ARRIVED", pallet=pallet_id(pallet))
        restart = again + max(1, round(rng.gammavariate(4.0, 0.3) * 1000))
        self._emit(out, restart, disp, "PROCESS_START")
        return restart

    def _emit(self, out: list[Item], t: int, comp: int, event: str, *, pallet: str = "",
              value: str = "", fields: Any = None, marks: Any = None) -> None:
        text = self._texts[event]
        if pallet or value:
            text = text.format(pallet=pallet, value=value)
        sparse = None
        if event == "PROCESS_END":
            sparse = "[INFO] " + MESSAGES["PROCESS_END_SPARSE"].format(value=value)
        droppable = event in _DROPPABLE
        out.append((t, next(self.seq), comp, event, text, sparse, fields, droppable, marks))

    def _reading(self, out: list[Item], t: int, comp: int, event: str, value: float) -> None:
        hundredth = _hundredth(value)
        head, tail = self._reading_texts[event]
        out.append((t, next(self.seq), comp, event, f"{head}{hundredths(hundredth)}{tail}", None,
                    (("pressure", hundredth / 100),), False, None))


def _hundredth(value: float) -> int:
    """A reading as the integer count of hundredths the log writes (never 0)."""
    return int(value * 100 + 0.5) or 1


def _realized(marks: Any, wanted: float, natural: int, got: int) -> Any:
    """The marks of a scaled visit: the factors its length actually reached.

    A visit whose length did not change at all is not listed: the line clipped the
    change away (a clamp cannot open before the dispensing ends, a release waits for
    the outfeed), the change was below a millisecond, or the injections on the visit
    cancel out (a drift to 0.5 and a spike of 2.0). Unclipped (within the millisecond
    of rounding), the marks stay as asked; clipped in part, they are scaled to the
    factor reached.
    """
    if not marks or got == natural:
        return None
    if abs(got - natural * wanted) <= 1:
        return marks
    scale = got / (natural * wanted)
    return tuple((metric, kind, factor_text(float(factor) * scale))
                 for metric, kind, factor in marks)


def _aggs(metrics: Any) -> dict[str, str]:
    return {m.name: m.agg for m in metrics if m.kind == "value"}


def _read(marks: Any, aggs: dict[str, str], values: list[float], factor: float) -> Any:
    """The marks of readings scaled by ``factor``, as far as they change a metric's row."""
    if not marks:
        return marks
    return _visible(marks, aggs, [_hundredth(v) for v in values],
                    [_hundredth(v * factor) for v in values])


def _visible(marks: Any, aggs: dict[str, str], natural: list[int], scaled: list[int]) -> Any:
    """The marks whose metric's row differs between the natural and the scaled readings.

    The truth writes a value metric's readings (in hundredths, as the log writes them)
    aggregated by its ``agg``: a change below the hundredth, or one the aggregate hides
    (a max whose largest reading stayed), or injections that cancel out, is not listed.
    """
    if scaled == natural:
        return None
    before = [h / 100 for h in natural]
    after = [h / 100 for h in scaled]
    kept = tuple(m for m in marks if m[0] not in aggs
                 or value_text(aggs[m[0]], before) != value_text(aggs[m[0]], after))
    return kept or None


def _join(*marks: Any) -> Any:
    joined = tuple(m for group in marks if group for m in group)
    return joined or None


class LineSim:
    """The whole line: pallets arrive at the infeed and pass every stage in turn."""

    def __init__(self, model: LineModel, plan: Plan, seed: int,
                 fault_rng: random.Random) -> None:
        self._seq = itertools.count()
        self._supply = SupplyDraws(generator(seed, "supply"))
        self._arrival = 0
        self.stages: list[ConveyorSim | StationSim] = []
        conveyors = stations = 0
        for stage in model.stages:
            sim: ConveyorSim | StationSim
            if isinstance(stage, Station):
                gen = generator(seed, f"station-{stations}")
                sim = StationSim(stage, stations, model, plan, gen, fault_rng, self._seq)
                stations += 1
            else:
                sim = ConveyorSim(stage, conveyors, plan, generator(seed, f"conveyor-{conveyors}"),
                                  self._seq)
                conveyors += 1
            self.stages.append(sim)
        for before, after in itertools.pairwise(self.stages):
            if isinstance(before, ConveyorSim) and isinstance(after, StationSim):
                before.downstream = after
            if isinstance(before, StationSim) and isinstance(after, ConveyorSim):
                before.outfeed = after

    def pallet(self, pallet: int) -> list[Item]:
        """Every event of ``pallet``'s trip, in causal order (so seq orders equal times)."""
        self._arrival += self._supply.take()
        out: list[Item] = []
        ready = self._arrival
        for stage in self.stages:
            ready = stage.run(pallet, ready, out)
        return out
