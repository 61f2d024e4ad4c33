"""How long things take and what the sensors read: the random side of the schedule.

Owns the per-station timing profiles (right-skewed: lognormal or gamma, different
per station) and the blocks of pre-drawn numbers the stage simulators consume.
Numbers are drawn by numpy in blocks of ``BLOCK`` pallets per stage, a fixed count
per pallet, so (a) drawing costs little per line and (b) an injected anomaly, which
changes times but never how many numbers are drawn, leaves every other visit as it was.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

BLOCK = 1024
MAX_READINGS = 7  # dispense-pressure readings per dispensing at most


def generator(seed: int, purpose: str) -> np.random.Generator:
    """An independent numpy stream per (seed, purpose): same seed, same numbers."""
    digest = hashlib.sha256(f"logloom-simulate:{seed}:{purpose}".encode()).digest()
    return np.random.Generator(np.random.PCG64(int.from_bytes(digest[:16], "big")))


class Dist:
    """A right-skewed duration: lognormal (``center`` = median) or gamma (``center`` = mean).

    ``spread`` is the lognormal sigma, or the gamma coefficient of variation.
    """

    def __init__(self, family: str, center: float, spread: float) -> None:
        if family not in ("lognormal", "gamma"):
            raise ValueError(f"unknown family {family!r}")
        self.family, self.center, self.spread = family, center, spread

    def sample(self, gen: np.random.Generator, n: int) -> list[int]:
        """``n`` durations in whole milliseconds, each at least 1."""
        if self.family == "lognormal":
            ms = gen.lognormal(math.log(self.center * 1000), self.spread, n)
        else:
            shape = 1.0 / (self.spread * self.spread)
            ms = gen.gamma(shape, self.center * 1000 / shape, n)
        values: list[int] = np.maximum(np.floor(ms + 0.5), 1).astype(np.int64).tolist()
        return values


@dataclass(frozen=True)
class StationProfile:
    """How one station behaves; stations differ in family and centre."""

    arrival: Dist  # conveyor stopped -> pallet registered
    clamp_delay: Dist  # registered -> clamp closed
    settle: Dist  # clamp closed -> dispensing started
    dispense: Dist
    open_delay: Dist  # dispensing finished -> clamp opened
    release: Dist  # clamp opened -> pallet released
    handover: Dist  # station free -> the conveyor feeding it starts
    volume_ml: float
    dispense_bar: float
    clamp_bar: float
    retry_rate: float


def station_profile(index: int) -> StationProfile:
    """Even stations dispense with lognormal timing, odd ones with gamma timing."""
    odd = index % 2
    return StationProfile(
        arrival=Dist("gamma", 0.12, 0.5),
        clamp_delay=Dist("lognormal" if odd else "gamma", 1.4 - 0.2 * odd, 0.35),
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


class StationDraws:
    """Pre-drawn numbers for one station, a block of pallets at a time.

    ``take()`` returns the row index for the next pallet; read the columns at it.
    """

    def __init__(self, gen: np.random.Generator, profile: StationProfile) -> None:
        self._gen, self._profile = gen, profile
        self._next = BLOCK

    def take(self) -> int:
        if self._next == BLOCK:
            self._refill()
        index = self._next
        self._next += 1
        return index

    def _refill(self) -> None:
        gen, prof, n = self._gen, self._profile, BLOCK
        self.arrival = prof.arrival.sample(gen, n)
        self.clamp_delay = prof.clamp_delay.sample(gen, n)
        self.settle = prof.settle.sample(gen, n)
        self.dispense = prof.dispense.sample(gen, n)
        self.open_delay = prof.open_delay.sample(gen, n)
        self.release = prof.release.sample(gen, n)
        self.handover = prof.handover.sample(gen, n)
        self.volume: list[float] = (gen.normal(prof.volume_ml, 0.12, n) * 100).tolist()
        self.dispense_bar: list[list[float]] = gen.normal(
            prof.dispense_bar, 0.05, (n, MAX_READINGS)).tolist()
        self.jitter: list[list[float]] = gen.uniform(-1.0, 1.0, (n, MAX_READINGS)).tolist()
        self.clamp_bar: list[list[float]] = gen.normal(prof.clamp_bar, 0.08, (n, 2)).tolist()
        self.clamp_readings: list[int] = gen.integers(1, 3, n).tolist()
        self.retry: list[float] = gen.random(n).tolist()
        self.retry_at: list[float] = gen.random(n).tolist()
        self._next = 0


class ConveyorDraws:
    """Pre-drawn handover and transport times for one conveyor."""

    def __init__(self, gen: np.random.Generator, index: int) -> None:
        odd = index % 2
        self._transport = Dist("gamma" if odd else "lognormal", 5.0 - 0.6 * odd, 0.08)
        self._handover = Dist("gamma", 0.6, 0.5)
        self._gen = gen
        self._next = BLOCK

    def take(self) -> int:
        if self._next == BLOCK:
            self.transport = self._transport.sample(self._gen, BLOCK)
            self.handover = self._handover.sample(self._gen, BLOCK)
            self._next = 0
        index = self._next
        self._next += 1
        return index


class SupplyDraws:
    """Time between pallets offered to the infeed: gamma, mean 27 s, coefficient 0.5."""

    def __init__(self, gen: np.random.Generator) -> None:
        self._dist = Dist("gamma", 27.0, 0.5)
        self._gen = gen
        self._values: list[int] = []

    def take(self) -> int:
        if not self._values:
            self._values = self._dist.sample(self._gen, BLOCK)[::-1]
        return self._values.pop()
