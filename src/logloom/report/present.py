"""How figures are shown to people: a run's one-line description, labels for
run_summary.json's keys, and what the log itself got wrong (its time going back,
parts not read). Limits are clipped at their metric's physical bound by
``detect.bounds``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

LABELS = {
    "lines_read": "lines read", "malformed": "malformed lines", "unmatched": "unmatched lines",
    "events": "events", "rows_written": "rows written", "anomalies": "anomalies",
    "incidents": "incidents", "unknown_target": "unknown targets", "unrouted": "unrouted events",
    "wall_time_s": "wall time (s)", "lines_per_second": "lines per second",
    "resumed_from": "resumed from the checkpoint of",
    "transitions": "transitions", "jumps": "jumps over lost lines", "inferred_steps": "inferred steps",
    "guard_blocked": "blocked by a guard", "invalid_transition": "invalid transitions",
    "data_only": "data-only events", "missing_value": "missing values", "negative_duration": "negative durations",
    "time_back_steps": "steps back of the log's time (over 1 s)", "time_back_lines": "lines earlier than one before",
    "baseline": "scored against",
}


def label(key: str) -> str:
    """A run_summary.json key as people read it (an unknown key: its words)."""
    return LABELS.get(key, key.replace("_", " "))


def counted(n: int, one: str, many: str = "") -> str:
    """``n`` and what it counts, singular for one: "1 anomaly", "2 anomalies", "0 rows"."""
    return f"{n} {one if n == 1 else many or one + 's'}"


def describe_run(summary: Mapping[str, Any]) -> str:
    """This run's figures (and, for a run that resumed, the totals since the outputs began)."""
    this = summary.get("this_run") or summary
    text = (
        f"{counted(this['lines_read'], 'line')}, {counted(this['events'], 'event')}, "
        f"{counted(this['rows_written'], 'row')}, {counted(this['anomalies'], 'anomaly', 'anomalies')}, "
        f"{this['malformed']} malformed, {this['unmatched']} unmatched, "
        f"{counted(this['unknown_target'], 'unknown target')}, {this['unrouted']} unrouted "
        f"({summary['lines_per_second'] or 0:,.0f} lines/s)"
    )
    if summary.get("resumed_from"):
        text += (f"; since the outputs began: {counted(summary['lines_read'], 'line')}, "
                 f"{counted(summary['rows_written'], 'row')}, {counted(summary['anomalies'], 'anomaly', 'anomalies')}")
    if this.get("time_back_steps") or this.get("time_back_lines"):
        went_back = _went_back(this["time_back_steps"], this["time_back_lines"])
        text += f"; {went_back} (a clock set back, or lines written twice)"
    negative = _negative_durations(summary)
    if negative:
        text += f"; {_ended_early(negative)} (no duration row written)"
    if summary.get("baseline"):
        text += f"; scored against {summary['baseline']}"
    return text


def _negative_durations(summary: Mapping[str, Any]) -> int:
    components = summary.get("components")
    if not isinstance(components, Mapping):
        return 0
    return sum(int(c.get("negative_duration", 0)) for c in components.values() if isinstance(c, Mapping))


def _went_back(steps: int, behind: int, where: str = "") -> str:
    """The log's clock steps back (``where``: where they are listed) and the lines behind."""
    return (f"the log's time went back {counted(steps, 'time')} by more than a second{where}, and "
            f"{counted(behind, 'line')} {'is' if behind == 1 else 'are'} earlier than a line before them")


def _ended_early(visits: int) -> str:
    return f"{counted(visits, 'visit')} ended before {'it' if visits == 1 else 'they'} began"


def integrity_notes(summary: Mapping[str, Any]) -> list[str]:
    """What the run summary says about the log itself: its time going back, visits that
    ended before they began, parts of a source that could not be read (for the report)."""
    notes = []
    steps, behind = summary.get("time_back_steps", 0), summary.get("time_back_lines", 0)
    if steps or behind:
        notes.append(f"{_went_back(steps, behind, ' (rule time_back in the anomalies, component log)')}: "
                     "a clock set back, or lines written twice.")
    negative = _negative_durations(summary)
    if negative:
        notes.append(f"{_ended_early(negative)}; no duration row was written for {'it' if negative == 1 else 'them'}.")
    notes += [f"not read: {gap}" for gap in summary.get("gaps") or []]
    return notes


def nothing_new(summary: Mapping[str, Any], data_dir: Path, recording: Path | None = None) -> str | None:
    """The notice of a monitor that resumed and found nothing new (None: it read lines)."""
    if not summary.get("resumed_from") or summary["this_run"]["lines_read"]:
        return None
    also = f" ({recording} records no new data either)" if recording else ""
    return (f"{summary['sources'][0]}: nothing new since the checkpoint of {when(summary['resumed_from'])}{also}; "
            f"the totals so far are in {data_dir / 'run_summary.json'}; "
            "`logloom monitor --from-start` processes the log again")


def when(iso: str) -> str:
    """A checkpoint's ``written_at`` for people: to the second, in UTC."""
    try:
        return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except ValueError:
        return iso
