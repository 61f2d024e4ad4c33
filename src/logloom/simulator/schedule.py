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
from dataclasses import dataclass
from typing import Any

from logloom.simulator.model import Component, LineModel, Station
from logloom.simulator.plan import Plan, factor_text
from logloom.simulator.texts import FAULT_REASONS, MESSAGES, hundredths, pallet_id

Item = tuple[Any, ...]
_MAX_READINGS = 7
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


@dataclass(frozen=True)
class Dist:
    """A right-skewed duration: lognormal (center = median) or gamma (center = mean).

    ``spread`` is the lognormal sigma, or the gamma coefficient of variation.
    """

    family: str
    center: float  # seconds
    spread: float

    def draw(self, rng: random.Random) -> int:
        """One duration in whole milliseconds, at least 1."""
        if self.family == "lognormal":
            seconds = rng.lognormvariate(math.log(self.center), self.spread)
        else:
            shape = 1.0 / (self.spread * self.spread)
            seconds = rng.gammavariate(shape, self.center / shape)
        return max(1, round(seconds * 1000))


@dataclass(frozen=True)
class StationProfile:
    """How one station behaves; stations differ in family and centre."""

    arrival: Dist
    clamp_delay: Dist
    settle: Dist
    dispense: Dist
    open_delay: Dist
    release: Dist
    handover: Dist
    volume_ml: float
    dispense_bar: float
    clamp_bar: float
    retry_rate: float


def station_profile(index: int) -> StationProfile:
    """Even stations dispense with lognormal timing, odd ones with gamma timing."""
    odd = index % 2
    return StationProfile(
        arrival=Dist("gamma", 0.12, 0.5),
        clamp_delay=Dist("gamma" if not odd else "lognormal", 1.4 - 0.2 * odd, 0.35),
        settle=Dist("gamma", 0.8, 0.45),
        dispense=Dist("gamma" if odd else "lognormal", 15.0 - 1.2 * odd + 0.4 * (index // 2), 0.06),
        open_delay=Dist("gamma", 0.9, 0.4),
        release=Dist("lognormal", 1.1, 0.3),
        handover=Dist("gamma", 0.6, 0.5),
        volume_ml=(12.5, 8.2)[odd],
        dispense_bar=(2.3, 3.1)[odd],
        clamp_bar=5.8 + 0.3 * odd,
        retry_rate=0.03,
    )


class ConveyorSim:
    """One conveyor: carries a pallet to the next station once that station is empty."""

    def __init__(self, comp: Component, index: int, plan: Plan, rng: random.Random,
                 seq: itertools.count[int]) -> None:
        self.comp = comp
        odd = index % 2
        self.transport = Dist("gamma" if odd else "lognormal", 5.0 - 0.6 * odd, 0.08)
        self.handover = Dist("gamma", 0.6, 0.5)
        self.plan, self.rng, self.seq = plan, rng, seq
        self.last_stop = 0
        self.downstream: StationSim | None = None
        self._stopped = f"[INFO] {MESSAGES['CONVEYOR_STOP'].format(s=comp.name)}"

    def run(self, pallet: int, ready: int, out: list[Item]) -> int:
        """Carry ``pallet`` (ready at ``ready``); returns when it stops at the next station."""
        rng, idx = self.rng, self.comp.index
        start = max(ready + self.handover.draw(rng), self.last_stop + 1)
        transport = self.transport.draw(rng)
        if self.downstream is not None:
            start = max(start, self.downstream.last_release + self.downstream.handover_draw())
        factor, marks = self.plan.duration(idx, "MOVING", pallet)
        if factor != 1.0:
            transport = max(1, round(transport * factor))
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
                 rng: random.Random, fault_rng: random.Random, seq: itertools.count[int]) -> None:
        self.station = station
        machine = model.machine_of(station.dispenser)
        self._dispensing_metric = machine.duration_metric("DISPENSING")
        self._error_metric = machine.duration_metric("ERROR")
        self.profile = station_profile(index)
        self.plan, self.rng, self.fault_rng, self.seq = plan, rng, fault_rng, seq
        self.last_release = 0
        self.outfeed: ConveyorSim | None = None
        name = station.name
        self._texts = {e: f"[INFO] {MESSAGES[e].format(s=name, pallet='{pallet}', value='{value}')}"
                       for e in _STATION_EVENTS}
        self._texts["DISPENSE_RETRY"] = f"[WARN] {MESSAGES['DISPENSE_RETRY'].format(s=name)}"

    def handover_draw(self) -> int:
        return self.profile.handover.draw(self.rng)

    def run(self, pallet: int, ready: int, out: list[Item]) -> int:
        """Work ``pallet`` (stopped at the station at ``ready``); returns its release time."""
        rng, prof, plan = self.rng, self.profile, self.plan
        disp = self.station.dispenser.index
        clamp = self.station.clamp
        pid = pallet_id(pallet)
        draws = _Draws(rng, prof)
        a = ready + draws.arrival
        c = a + (draws.clamp_delay if clamp is not None else 0)
        s = c + draws.settle
        ready_factor, ready_marks = plan.duration(disp, "READY_TO_DISPENSE", pallet)
        if ready_factor != 1.0:
            c = a + round((c - a) * ready_factor)
            s = max(c, a + max(1, round((s - a) * ready_factor)))
        self._emit(out, a, disp, "PALLET_ARRIVED", pallet=pid)
        if clamp is not None:
            self._emit(out, c, clamp.index, "CLAMP_CLOSE")
            clamp_factor, clamp_marks = plan.value(clamp.index, "CLOSED", "pressure", pallet)
            for k, value in enumerate(draws.clamp_bar[: draws.clamp_readings]):
                at = c + (s - c) * (k + 1) // (draws.clamp_readings + 1)
                self._reading(out, at, clamp.index, "CLAMP_PRESSURE", value * clamp_factor)
        self._emit(out, s, disp, "PROCESS_START", marks=ready_marks)
        if plan.fault(disp, pallet):
            s = self._fault_episode(out, pallet, s, draws)
        f = self._dispense(out, pallet, s, draws)
        o = f + draws.open_delay
        r = o + draws.release
        unclamp_factor, unclamp_marks = plan.duration(disp, "UNCLAMPING", pallet)
        if unclamp_factor != 1.0:
            o = f + round((o - f) * unclamp_factor)
            r = f + max(1, round((r - f) * unclamp_factor))
        if clamp is not None:
            closed_factor, closed_marks = plan.duration(clamp.index, "CLOSED", pallet)
            if closed_factor != 1.0:
                opened = max(f, c + round((o - c) * closed_factor))
                r = max(r + max(0, opened - o), opened)
                o = opened
            self._emit(out, o, clamp.index, "CLAMP_OPEN", marks=_join(closed_marks, clamp_marks))
        if self.outfeed is not None:
            r = max(r, self.outfeed.last_stop + 1)
        self._emit(out, r, disp, "PALLET_RELEASED", pallet=pid, marks=unclamp_marks)
        self.last_release = r
        return r

    def _dispense(self, out: list[Item], pallet: int, s: int, draws: _Draws) -> int:
        """Readings, maybe a retry, and the finish line; returns the finish time."""
        plan, disp = self.plan, self.station.dispenser.index
        factor, marks = plan.duration(disp, "DISPENSING", pallet)
        length = max(1, round(draws.dispense * factor)) if factor != 1.0 else draws.dispense
        f = s + length
        bar_factor, bar_marks = plan.value(disp, "DISPENSING", "pressure", pallet)
        vol_factor, vol_marks = plan.value(disp, "DISPENSING", "volume", pallet)
        readings = min(_MAX_READINGS, max(1, round(length / 4000)))
        times = [s + length * (2 * k + 1 + 0.6 * draws.jitter[k]) / (2 * readings)
                 for k in range(readings)]
        events = [(int(at), "DISPENSE_PRESSURE", draws.dispense_bar[k] * bar_factor)
                  for k, at in enumerate(times)]
        if draws.retry < self.profile.retry_rate:
            events.append((s + int(length * draws.retry_at), "DISPENSE_RETRY", 0.0))
            events.sort(key=lambda e: e[0])
        for at, event, value in events:
            if event == "DISPENSE_RETRY":
                self._emit(out, at, disp, event)
            else:
                self._reading(out, at, disp, event, value)
        volume = max(1, round(draws.volume * vol_factor))
        self._emit(out, f, disp, "PROCESS_END", value=hundredths(volume),
                   fields=(("volume", volume / 100),), marks=_join(marks, bar_marks, vol_marks))
        return f

    def _fault_episode(self, out: list[Item], pallet: int, s: int, draws: _Draws) -> int:
        """FAULT part-way through dispensing, repair, RESET, the pallet re-registered.

        Returns when dispensing starts again.
        """
        rng, disp = self.fault_rng, self.station.dispenser.index
        share = rng.uniform(0.1, 0.9)
        failed = s + max(1, round(draws.dispense * share))
        reading = s + (failed - s) // 2
        self._reading(out, reading, disp, "DISPENSE_PRESSURE", draws.dispense_bar[-1])
        reason, code = FAULT_REASONS[rng.randrange(len(FAULT_REASONS))]
        text = f"[ERROR] {MESSAGES['FAULT'].format(s=self.station.name, reason=reason, code=code)}"
        share_text = factor_text((failed - s) / draws.dispense)
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
        hundredth = max(1, round(value * 100))
        text = self._texts[event].format(pallet="", value=hundredths(hundredth))
        out.append((t, next(self.seq), comp, event, text, None,
                    (("pressure", hundredth / 100),), False, None))


class _Draws:
    """The random numbers of one pallet at one station, always the same count of them.

    A fixed count keeps the stream aligned: injecting an anomaly changes no other
    visit's timing.
    """

    __slots__ = ("arrival", "clamp_bar", "clamp_delay", "clamp_readings", "dispense",
                 "dispense_bar", "jitter", "open_delay", "release", "retry", "retry_at",
                 "settle", "volume")

    def __init__(self, rng: random.Random, prof: StationProfile) -> None:
        self.arrival = prof.arrival.draw(rng)
        self.clamp_delay = prof.clamp_delay.draw(rng)
        self.settle = prof.settle.draw(rng)
        self.dispense = prof.dispense.draw(rng)
        self.open_delay = prof.open_delay.draw(rng)
        self.release = prof.release.draw(rng)
        self.volume = rng.gauss(prof.volume_ml, 0.12) * 100
        gauss = rng.gauss
        self.dispense_bar = [gauss(prof.dispense_bar, 0.05) for _ in range(_MAX_READINGS)]
        self.jitter = [rng.random() * 2 - 1 for _ in range(_MAX_READINGS)]
        self.clamp_bar = [gauss(prof.clamp_bar, 0.08) for _ in range(2)]
        self.clamp_readings = 1 + (rng.random() < 0.5)
        self.retry = rng.random()
        self.retry_at = rng.random()


def _join(*marks: Any) -> Any:
    joined = tuple(m for group in marks if group for m in group)
    return joined or None


class LineSim:
    """The whole line: pallets arrive at the infeed and pass every stage in turn."""

    def __init__(self, model: LineModel, plan: Plan, rng: random.Random,
                 fault_rng: random.Random) -> None:
        self._seq = itertools.count()
        self._rng = rng
        self._supply = Dist("gamma", 27.0, 0.5)
        self._arrival = 0
        self.stages: list[ConveyorSim | StationSim] = []
        conveyors = stations = 0
        for stage in model.stages:
            sim: ConveyorSim | StationSim
            if isinstance(stage, Station):
                sim = StationSim(stage, stations, model, plan, rng, fault_rng, self._seq)
                stations += 1
            else:
                sim = ConveyorSim(stage, conveyors, plan, rng, self._seq)
                conveyors += 1
            self.stages.append(sim)
        for before, after in itertools.pairwise(self.stages):
            if isinstance(before, ConveyorSim) and isinstance(after, StationSim):
                before.downstream = after
            if isinstance(before, StationSim) and isinstance(after, ConveyorSim):
                before.outfeed = after

    def pallet(self, pallet: int) -> list[Item]:
        """Every event of ``pallet``'s trip, in causal order (so seq orders equal times)."""
        self._arrival += self._supply.draw(self._rng)
        out: list[Item] = []
        ready = self._arrival
        for stage in self.stages:
            ready = stage.run(pallet, ready, out)
        return out
