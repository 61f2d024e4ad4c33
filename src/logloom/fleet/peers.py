"""Peers: one baseline per machine type, and machines that run unlike their peers.

``fleet record --pooled`` learns, for each ``type`` of the fleet file, one baseline
from the record rows of all its sources (each source's own record archive, read
back), archives it in every member's data directory and makes it active there. A
member's own baseline stays archived (``logloom baseline activate`` brings it back).

``fleet monitor`` then scores each machine's rows against the limits of its peer
group (anomalies mean "unlike the peers", not only "unlike its own past"), and
compares each machine's median of every metric in this run with the group's median
in robust peer sigmas (1.4826 x the group's MAD): ``|z| >= PEER_Z`` is listed as
unlike its peers in the fleet summary. See docs/fleet.md for the method's limits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from logloom.config.load import load_config
from logloom.detect.baseline import BASELINES_DIR as _ARCHIVE
from logloom.detect.baseline import BaselineAccumulator, load_active, read_metrics_csv, write_baseline_archive
from logloom.detect.monitoring import LearnHook, learn_baseline
from logloom.errors import InputError, LogloomError

if TYPE_CHECKING:
    from logloom.fleet.spec import Fleet
    from logloom.fleet.task import Outcome

PEER_Z = 1.0  # the run's median this many peer sigmas from the group's: unlike its peers
MIN_ROWS = 20  # fewer rows of a metric in the run: not compared
MAD_SIGMA = 1.4826


def _members(fleet: Fleet, outcomes: Sequence[Outcome]) -> dict[str, list[tuple[str, str, str, str]]]:
    """type -> [(name, config dir, data dir, own baseline id)] of the sources that recorded."""
    done = {o.name: o for o in outcomes if o.status == "done" and o.baseline_id}
    groups: dict[str, list[tuple[str, str, str, str]]] = {}
    for s in fleet.sources:
        if s.name in done:
            groups.setdefault(s.type, []).append(
                (s.name, str(s.config), str(s.data_dir(fleet.data)), str(done[s.name].baseline_id)))
    return groups


def pool_baselines(fleet: Fleet, outcomes: Sequence[Outcome], submit: Callable[..., Any],
                   show: Callable[[str], None]) -> dict[str, Any]:
    """Build and activate one pooled baseline per type (each a task on the cluster)."""
    pooled: list[dict[str, Any]] = []
    errors: list[str] = []
    for kind, members in _members(fleet, outcomes).items():
        try:
            result = submit(build_pooled, kind, members)
        except LogloomError as exc:
            errors.append(f"type {kind}: {exc}")
            show(f"pooled baseline of type {kind}: FAILED: {exc}")
            continue
        pooled.append(result)
        show(f"pooled baseline of type {kind}: {result['rows']:,} rows of {len(members)} sources, "
             f"active in each as {result['baseline_id']}")
        if len(members) < 3:
            show(f"warning: type {kind} has {len(members)} sources; peers need 3 or more to outvote one "
                 "that runs differently")
    return {"pooled": pooled, "errors": errors}


def build_pooled(kind: str, members: list[tuple[str, str, str, str]]) -> dict[str, Any]:
    """One baseline from the record rows of ``members``, archived and activated in each."""
    configs = {name: load_config(config) for name, config, _, _ in members}
    digests = {c.sha256 for c in configs.values()}
    if len(digests) > 1:
        raise InputError(f"the sources {', '.join(configs)} have different configs; a pooled baseline "
                         "needs one config per type (give them different `type`s)")
    config = next(iter(configs.values()))
    acc = BaselineAccumulator()
    for _, _, data_dir, baseline_id in members:
        for row in read_metrics_csv(sorted((Path(data_dir) / _ARCHIVE / baseline_id).glob("process_metrics*.csv"))):
            acc.add(row)
    baseline = learn_baseline(acc, config, [f"{name}:{bid}" for name, _, _, bid in members])
    baseline["pooled"] = {"type": kind, "members": [name for name, _, _, _ in members]}
    ids = [write_baseline_archive(Path(data_dir), baseline) for _, _, data_dir, _ in members]
    return {"type": kind, "members": baseline["pooled"]["members"], "rows": len(acc), "baseline_id": ids[0],
            "baseline_ids": ids}


def peer_findings(stats: LearnHook, data_dir: Path, name: str, min_samples: int) -> list[dict[str, Any]]:
    """Each metric's median of this run against the active pooled baseline's, in peer sigmas."""
    baseline = load_active(data_dir)
    if baseline is None or "pooled" not in baseline:
        return []
    found = []
    for (comp, metric), values in stats.accumulator.arrays():
        entry = baseline["metrics"].get(comp, {}).get(metric)
        if entry is None or entry["n"] < min_samples or len(values) < MIN_ROWS:
            continue
        median = float(np.median(values))
        scale = MAD_SIGMA * entry["mad"] or entry["std"] or 0.01 * abs(entry["median"]) or 1e-9
        z = (median - entry["median"]) / scale
        found.append({"source": name, "component_id": comp, "metric_name": metric, "n": len(values),
                      "median": round(median, 6), "peer_median": entry["median"], "z": round(z, 3),
                      "unlike_peers": abs(z) >= PEER_Z})
    return found


def compare_peers(fleet: Fleet, outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """The peer comparisons the monitor tasks made, and the machines unlike their peers."""
    compared = [f for o in outcomes for f in o.peers]
    if not compared:
        return {}
    return {"peer_z": PEER_Z, "compared": len(compared), "unlike_peers": [f for f in compared if f["unlike_peers"]]}
