"""A data directory's earlier runs: ``monitor --from-start`` archives the current
outputs and resume point under ``runs/<time>/`` and the log is processed afresh.

Nothing is deleted or copied. Each file is renamed (one file system, so each move
is atomic) into ``runs/<id>.partial/``, the checkpoint first, and that directory is
renamed to ``runs/<id>`` once everything is in. A run that dies half-way leaves the
``.partial`` directory; the next monitor completes the move (``finish_archive``)
before it reads any state, so a half-archived directory is never resumed. The
active baseline, the baseline archive, the default source log and the lock stay.
"""

from __future__ import annotations

import fnmatch
import os
from datetime import UTC, datetime
from pathlib import Path

from logloom.errors import InputError
from logloom.outputs.state_store import CHECKPOINT, SNAPSHOT_DIR, fsync_dir

RUNS_DIR = "runs"
PARTIAL = ".partial"
# What a monitor run owns in DATA, the resume point first (a new output adds its name).
RUN_OUTPUTS = (
    CHECKPOINT, SNAPSHOT_DIR,
    "process_metrics.csv", "process_metrics_part*.csv", "anomalies.csv", "incidents.csv",
    "rejected_lines.log", "run_summary.json", "parquet", "report.html",
)


def refuse_output_as_log(data_dir: Path, log: Path) -> None:
    """InputError when ``log`` is (or links to) one of the outputs a monitor run owns in
    ``data_dir``: the run would truncate, rewrite or move the very log it reads."""
    try:
        real = log.resolve()
        here = real.parent == data_dir.resolve()
    except (OSError, RuntimeError):  # a loop of links: opening it reports the error
        return
    owned = next((pattern for pattern in RUN_OUTPUTS if fnmatch.fnmatchcase(real.name, pattern)), None)
    if here and owned is not None:
        raise InputError(f"{log}: is {real.name}, an output of monitor in --data {data_dir}: the run would "
                         "overwrite it; give another --data, or move the log out of it first")


def archive_outputs(data_dir: Path) -> Path | None:
    """Move the outputs and checkpoint of ``data_dir`` into a new ``runs/<id>/``.

    Returns that directory, or None when there was nothing to archive. The caller
    holds the data directory's lock.
    """
    if not _present(data_dir):
        return None
    runs = _runs_dir(data_dir)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = runs / stamp
    n = 1
    while target.exists() or target.with_name(target.name + PARTIAL).exists():
        n += 1
        target = runs / f"{stamp}-{n}"
    partial = target.with_name(target.name + PARTIAL)
    partial.mkdir()
    fsync_dir(runs)
    return _complete(data_dir, partial)


def finish_archive(data_dir: Path) -> list[Path]:
    """Complete the archives an interrupted ``--from-start`` left half-done; returns them."""
    runs = data_dir / RUNS_DIR
    if not runs.is_dir() or runs.is_symlink():
        return []
    return [_complete(data_dir, p) for p in sorted(runs.glob(f"*{PARTIAL}")) if p.is_dir()]


def _present(data_dir: Path) -> list[Path]:
    """The run outputs in ``data_dir``, in RUN_OUTPUTS order."""
    found: list[Path] = []
    for pattern in RUN_OUTPUTS:
        found += sorted(data_dir.glob(pattern)) if "*" in pattern else [data_dir / pattern]
    return [p for p in found if p.is_symlink() or p.exists()]


def _runs_dir(data_dir: Path) -> Path:
    runs = data_dir / RUNS_DIR
    if runs.is_symlink() or (runs.exists() and not runs.is_dir()):
        raise InputError(f"{runs}: not a directory of logloom's (a symlink or a file); "
                         "move it aside to archive runs there")
    runs.mkdir(exist_ok=True)
    return runs


def _complete(data_dir: Path, partial: Path) -> Path:
    for path in _present(data_dir):
        destination = partial / path.name
        if destination.exists() or destination.is_symlink():
            raise InputError(f"{path}: cannot archive it, {destination} exists already; "
                             "move one of them aside")
        os.rename(path, destination)
    fsync_dir(partial)
    fsync_dir(data_dir)
    done = partial.with_name(partial.name.removesuffix(PARTIAL))
    os.rename(partial, done)
    fsync_dir(partial.parent)
    return done
