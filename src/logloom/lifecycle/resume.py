"""Where a monitor run starts: the newest state, checked, and the source found again.

- ``latest_state``: the checkpoint, or a crash snapshot that is newer (then moved
  aside). A state edited by hand is refused by ``load_state`` (its checksum).
- ``check_engine_state``: the components and states it names must exist in the
  configs; when the configs changed since, a vanished state is said and dropped.
- ``plan_source``: which files to read, from where. The checkpoint's file is known
  by its identity, not by how the path is spelt: the same file under another name
  resumes. A file replaced or truncated since is first finished from its rotated
  predecessor (``parse.rotation``), then every file rotated after it, then the new
  one from its start. When the predecessor is nowhere to be found, the plan says
  so (``gap``): the run reads on, and the gap goes to the console, the summary and
  the exit status.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from logloom.config.load import Config
from logloom.errors import StateFileError
from logloom.outputs.state_store import CHECKPOINT, SNAPSHOT, SNAPSHOT_DIR, START_OVER, load_state, output_error
from logloom.parse import rotation
from logloom.parse.source import Identity, identify


@dataclass(frozen=True)
class Segment:
    """A file to read from ``offset``; ``rotated``: a predecessor, read to its end."""

    path: Path
    offset: int
    rotated: bool = False


@dataclass
class SourcePlan:
    segments: list[Segment]
    notices: list[str] = field(default_factory=list)
    gap: str | None = None


def latest_state(data_dir: Path, notify: Callable[[str], None]) -> dict[str, Any] | None:
    """The checkpoint, or a crash snapshot that is newer (then moved aside)."""
    cp_path = data_dir / CHECKPOINT
    snap_path = data_dir / SNAPSHOT_DIR / SNAPSHOT
    saved = load_state(cp_path) if cp_path.exists() else None
    if snap_path.exists():
        snap = load_state(snap_path)
        if saved is None or snap["written_at"] > saved["written_at"]:
            line = snap["source"]["line_no"]
            notify(f"resuming from the crash snapshot of {snap['written_at']} (after line {line})")
            saved = snap
        used = snap_path.with_name(f"crash_state.{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.used.json")
        try:
            os.replace(snap_path, used)
        except OSError as exc:
            raise output_error(snap_path, exc) from None
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


def check_engine_state(saved: dict[str, Any] | None, config: Config, where: Path,
                       notify: Callable[[str], None]) -> None:
    """Every component state in ``saved`` must be one its machine has.

    With the configs unchanged since the checkpoint, one that is not was made by
    hand: refused. With changed configs, the component starts again from its
    machine's initial state, and that is said.
    """
    if not saved:
        return
    same_configs = saved.get("config_sha256") == config.sha256
    types = {c.id: c.type for c in config.graph.components}
    for comp in saved["engine"]["components"]:
        cid, state, previous = comp["id"], comp["state"], comp.get("previous")
        machine = config.logic.machines.get(types.get(cid, ""))
        if machine is None:
            problem = f"names a component {cid!r} that the configs do not have"
        elif state not in machine.states or (previous is not None and previous not in machine.states):
            bad = state if state not in machine.states else previous
            problem = f"puts {cid} in a state {bad!r} that its machine ({types[cid]}) does not have"
        else:
            continue
        if same_configs:
            raise StateFileError(f"{where}: {problem}, with the same configs it was written with; it was edited. "
                                 + START_OVER.format(state=where))
        if machine is not None:
            notify(f"{cid}: the checkpoint's state {state!r} is not in the changed configs; "
                   f"it starts again from {machine.initial}")


def source_state(live: Path, file: Path, identity: Identity, tail: str | None, offset: int,
                 line_no: int) -> dict[str, Any]:
    """The checkpoint's ``source``: the path followed, the file being read (maybe a
    rotated one), its identity, the offset and a digest of the bytes before it."""
    return {"path": os.path.abspath(live), "resolved": str(live.resolve()), "file": os.path.abspath(file),
            "identity": identity.to_dict(), "offset": offset, "line_no": line_no, "tail": tail}


def plan_source(saved: dict[str, Any] | None, live: Path, globs: Sequence[str] = ()) -> SourcePlan:
    """The files to read, in order, to continue from ``saved`` (see the module's doc)."""
    if not saved:
        return SourcePlan([Segment(live, 0)])
    src = saved["source"]
    was = rotation.Saved(Identity.from_dict(src["identity"]), int(src["offset"]), src.get("tail"))
    now = identify(live)
    same_inode = (now.device, now.inode) == (was.identity.device, was.identity.inode)
    if same_inode and rotation.holds(live, was):
        return SourcePlan([Segment(live, was.offset)])
    same_path = os.path.abspath(src["path"]) == os.path.abspath(live) or (
        Path(src.get("resolved", src["path"])).resolve() == live.resolve())
    if not same_path and not same_inode:
        return SourcePlan([Segment(live, 0)], [f"{live}: a new source (the checkpoint was of {src['path']}); "
                                               "reading it from its start"])
    found = rotation.find(was, live, globs, also=[Path(src.get("file", src["path"]))])
    if found:
        later = f", then {len(found) - 1} later rotated file(s)" if len(found) > 1 else ""
        notice = (f"{live}: rotated or truncated since the checkpoint; reading the rest of "
                  f"{found[0]} from byte {was.offset} first{later}, then {live.name} from its start")
        segments = [Segment(found[0], was.offset, True), *(Segment(p, 0, True) for p in found[1:])]
        return SourcePlan([*segments, Segment(live, 0)], [notice])
    looked = ", ".join(p.name for p in rotation.candidates(live, globs)) or "none beside it"
    gap = (f"{live}: rotated or truncated since the checkpoint, and the file it was reading "
           f"({src.get('file', src['path'])}, read up to byte {was.offset}, line {src['line_no']}) was not found "
           f"among its rotated files ({looked}): whatever was written to it after that was not read. Reading "
           f"{live.name} from its start (if rotated files go somewhere else, tell monitor where with --rotated GLOB)")
    return SourcePlan([Segment(live, 0)], [], gap)
