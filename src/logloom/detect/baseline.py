"""The baseline archive: create, activate, list, show and load baselines.

Layout under the data directory (SPEC 1 and 6)::

    baselines/<id>/process_metrics.csv   (and _part2, ... as record wrote them)
    baselines/<id>/process_baseline.json
    process_baseline.json                 the active one: a byte copy of an archived one

``<id>`` is ``baseline_`` + UTC ``YYYYmmddTHHMMSSZ``. An archive is built in a hidden
staging directory and moved into place with one ``rename``, which fails if the id
is taken: the id is then bumped to the next free second (ids stay in the SPEC's
format, sortable and unique; ``created`` keeps the true time). An archived baseline
is never overwritten. JSON files are written temp + fsync + rename.

The statistics live in ``baseline_stats``; ``compute_baseline`` and friends are
re-exported here.
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import json
import math
import os
import re
import shutil
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from logloom.detect.statistics import (
    DRIFT_P,
    METHODS,
    SCHEMA_VERSION,
    BaselineAccumulator,
    MetricLimits,
    compute_baseline,
    metric_stats,
)
from logloom.errors import InputError, StateFileError
from logloom.outputs.state_store import fsync_dir, make_temp_dir, write_bytes_atomic, write_json_atomic
from logloom.records import METRICS_HEADER, MetricRow

__all__ = [
    "BaselineAccumulator", "BaselineError", "BaselineInfo", "MetricLimits", "activate",
    "compute_baseline", "list_baselines", "load_active", "load_baseline", "metric_stats",
    "read_metrics_csv", "show_baseline", "stage_archive", "write_baseline_archive",
]

BASELINES_DIR = "baselines"
BASELINE_FILE = "process_baseline.json"
ID_PREFIX = "baseline_"
ID_FORMAT = "%Y%m%dT%H%M%SZ"
_ID_RE = re.compile(r"^baseline_\d{8}T\d{6}Z$")
_HINT = "re-record it, or activate an archived one (`logloom baseline list`)"


class BaselineError(StateFileError, ValueError):
    """A baseline file is missing, corrupt, hand-edited wrongly or of an unknown version."""


@dataclass(frozen=True)
class BaselineInfo:
    """One archived baseline, as ``baseline list`` shows it."""

    id: str
    path: Path
    created: str
    sources: tuple[str, ...]
    metrics: int
    rows: int
    active: bool
    error: str | None = None  # set when the archived JSON cannot be read


def new_id(now: datetime | None = None) -> str:
    """``baseline_YYYYmmddTHHMMSSZ`` of ``now`` (UTC; default: the current time)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return ID_PREFIX + now.strftime(ID_FORMAT)


class ArchiveStage:
    """A staging directory for a new archive; ``commit`` moves it into place.

    Record writes its metrics CSV(s) into ``path``; on an exception inside the
    ``with`` block (or ``abort``) the staging directory is removed.
    """

    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir) / BASELINES_DIR
        self.root.mkdir(parents=True, exist_ok=True)
        self.path = make_temp_dir(self.root, ".staging-")
        self.committed: str | None = None

    def __enter__(self) -> ArchiveStage:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.committed is None:
            self.abort()

    def abort(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def commit(self, baseline: Mapping[str, Any], *, now: datetime | None = None,
               activate_it: bool = True) -> str:
        """Archive ``baseline`` (id and created are set here) and, by default, activate it.

        Returns the id. Never replaces an existing archive: a taken id is bumped.
        """
        now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
        data = dict(baseline)
        data.setdefault("schema_version", SCHEMA_VERSION)
        data["created"] = now.isoformat().replace("+00:00", "Z")
        for bump in range(3600):
            baseline_id = new_id(now + timedelta(seconds=bump))
            data["id"] = baseline_id
            write_json_atomic(self.path / BASELINE_FILE, data, sort_keys=False, allow_nan=False)
            target = self.root / baseline_id
            if target.exists():
                continue
            try:
                os.rename(self.path, target)  # atomic; fails if a non-empty target appeared
            except OSError:
                if target.exists():
                    continue
                raise
            fsync_dir(self.root)
            self.committed = baseline_id
            self.path = target
            if activate_it:
                activate(self.root.parent, baseline_id)
            return baseline_id
        raise BaselineError(f"{self.root}: no free baseline id within an hour of {new_id(now)}")


def stage_archive(data_dir: Path) -> ArchiveStage:
    """Start a new archive under ``data_dir/baselines`` (use as a context manager)."""
    return ArchiveStage(data_dir)


def write_baseline_archive(data_dir: Path, baseline: Mapping[str, Any],
                           metrics_files: Iterable[Path] = (), *, now: datetime | None = None,
                           activate_it: bool = True) -> str:
    """Archive ``baseline`` with copies of ``metrics_files`` (names kept); return the id."""
    with stage_archive(data_dir) as stage:
        for src in metrics_files:
            shutil.copyfile(src, stage.path / Path(src).name)
        return stage.commit(baseline, now=now, activate_it=activate_it)


def _archived_path(data_dir: Path, baseline_id: str) -> Path:
    path = Path(data_dir) / BASELINES_DIR / baseline_id / BASELINE_FILE
    if not _ID_RE.match(baseline_id) or not path.is_file():
        raise BaselineError(f"{Path(data_dir) / BASELINES_DIR}: no baseline {baseline_id!r} "
                            "(see `logloom baseline list`)")
    return path


def activate(data_dir: Path, baseline_id: str) -> Path:
    """Make an archived baseline the active one (validated first); returns its path."""
    src = _archived_path(data_dir, baseline_id)
    load_baseline(src)
    target = Path(data_dir) / BASELINE_FILE
    write_bytes_atomic(target, src.read_bytes())
    return target


def show_baseline(data_dir: Path, baseline_id: str) -> dict[str, Any]:
    """The archived baseline ``baseline_id``, validated."""
    return load_baseline(_archived_path(data_dir, baseline_id))


def list_baselines(data_dir: Path) -> list[BaselineInfo]:
    """Every archived baseline, oldest first; unreadable ones carry ``error``."""
    root = Path(data_dir) / BASELINES_DIR
    active_id = None
    with contextlib.suppress(OSError, ValueError, AttributeError):
        active_id = json.loads((Path(data_dir) / BASELINE_FILE).read_text("utf-8")).get("id")
    out: list[BaselineInfo] = []
    for path in sorted(root.glob("baseline_*/" + BASELINE_FILE)) if root.is_dir() else []:
        baseline_id = path.parent.name
        if not _ID_RE.match(baseline_id):
            continue
        try:
            data = load_baseline(path)
        except BaselineError as exc:
            out.append(BaselineInfo(baseline_id, path, "", (), 0, 0, False, str(exc)))
            continue
        metrics = [e for comp in data["metrics"].values() for e in comp.values()]
        out.append(BaselineInfo(baseline_id, path, str(data.get("created", "")),
                                tuple(data.get("sources", ())), len(metrics),
                                sum(int(e["n"]) for e in metrics), baseline_id == active_id))
    return out


def load_active(data_dir: Path) -> dict[str, Any] | None:
    """The active baseline, or None when there is none (a corrupt one raises)."""
    path = Path(data_dir) / BASELINE_FILE
    return load_baseline(path) if path.exists() else None


# ----------------------------------------------------------------- validation
_REQUIRED_NUMBERS = ("mean", "std", "min", "max", "median", "mad", "p05", "p95",
                     "lower", "upper", "k", "center", "scale")
_OPTIONAL_NUMBERS = ("learned_lower", "learned_upper", "drift_mu", "drift_sigma",
                     "cover_lower", "cover_upper", "scale_lower", "scale_upper", "floor")


def load_baseline(path: Path) -> dict[str, Any]:
    """Read and validate a baseline JSON; every problem is listed in one ``BaselineError``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineError(f"{path}: cannot read the baseline: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineError(f"{path}: line {exc.lineno}, column {exc.colno}: not valid JSON "
                            f"({exc.msg}); {_HINT}") from exc
    problems = _validate(data)
    if problems:
        shown = "; ".join(problems[:10]) + ("; ..." if len(problems) > 10 else "")
        raise BaselineError(f"{path}: not a valid baseline: {shown}; {_HINT}")
    return data


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _validate(data: Any) -> list[str]:
    if not isinstance(data, dict):
        return ["the top level must be an object"]
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        return [f"schema_version {version!r} is not supported (this logloom reads "
                f"{SCHEMA_VERSION})"]
    metrics = data.get("metrics")
    if not isinstance(metrics, dict):
        return ["metrics: must be an object of components"]
    problems: list[str] = []
    for comp, entries in metrics.items():
        if not isinstance(entries, dict):
            problems.append(f"metrics.{comp}: must be an object of metrics")
            continue
        for name, entry in entries.items():
            problems += _validate_entry(f"metrics.{comp}.{name}", entry)
    return problems


def _validate_entry(where: str, entry: Any) -> list[str]:
    if not isinstance(entry, dict):
        return [f"{where}: must be an object"]
    problems = []
    n = entry.get("n")
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        problems.append(f"{where}.n: must be a whole number >= 0, got {n!r}")
    if not isinstance(entry.get("unit"), str):
        problems.append(f"{where}.unit: must be a string")
    if entry.get("method") not in METHODS:
        problems.append(f"{where}.method: {entry.get('method')!r} is not one of "
                        f"{', '.join(METHODS)}")
    for key in _REQUIRED_NUMBERS:
        if not _is_number(entry.get(key)):
            problems.append(f"{where}.{key}: must be a finite number, got {entry.get(key)!r}")
    for key in _OPTIONAL_NUMBERS:
        if key in entry and not _is_number(entry[key]):
            problems.append(f"{where}.{key}: must be a finite number, got {entry[key]!r}")
    for key in ("scale", "scale_lower", "scale_upper"):
        if _is_number(entry.get(key)) and entry[key] <= 0:
            problems.append(f"{where}.{key}: must be > 0")
    if _is_number(entry.get("k")) and entry["k"] <= 0:
        problems.append(f"{where}.k: must be > 0")
    if (_is_number(entry.get("lower")) and _is_number(entry.get("upper"))
            and entry["lower"] > entry["upper"]):
        problems.append(f"{where}: lower {entry['lower']} is above upper {entry['upper']}")
    q = entry.get("drift_q")
    if q is not None and (not isinstance(q, list) or len(q) != len(DRIFT_P)
                          or not all(_is_number(v) for v in q)
                          or any(b < a for a, b in itertools.pairwise(q))):
        problems.append(f"{where}.drift_q: must be {len(DRIFT_P)} increasing numbers")
    acf = entry.get("drift_acf", [])
    if not isinstance(acf, list) or not all(_is_number(r) and -1 <= r <= 1 for r in acf):
        problems.append(f"{where}.drift_acf: must be a list of autocorrelations in [-1, 1]")
    if ("cover_lower" in entry) != ("cover_upper" in entry):
        problems.append(f"{where}: cover_lower and cover_upper go together")
    return problems


# ------------------------------------------------------------------- CSV input
def _parse_ts(text: str) -> int:
    try:
        return round(float(text) * 1_000_000)
    except ValueError:
        pass
    when = datetime.fromisoformat(text)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # a naive reading counts as if it were UTC
    delta = when - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def read_metrics_csv(paths: Iterable[Path]) -> Iterator[MetricRow]:
    """The rows of process_metrics CSV files, in order (inferred rows included).

    Raises ``InputError`` naming the file and line for a wrong header or a bad row.
    """
    for path in paths:
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                continue
            if ",".join(header) != METRICS_HEADER:
                raise InputError(f"{path}: line 1: expected the header {METRICS_HEADER!r}")
            for row in reader:
                try:
                    ts, comp, metric, value, unit, context = row
                    yield MetricRow(_parse_ts(ts), comp, metric, float(value), unit, context)
                except ValueError as exc:
                    raise InputError(f"{path}: line {reader.line_num}: not a metric row "
                                     f"({exc})") from exc
