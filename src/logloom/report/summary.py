"""Terminal tables (rich): the monitor summary and the baseline commands' output.

Takes plain data (``Scorer.summary_rows()``, ``load_incidents``, a baseline dict,
``list_baselines``) and only renders it; nothing here computes a statistic. Lower limits are shown no
lower than their metric can be (``present.clip``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from logloom.detect.baseline import BaselineInfo
from logloom.detect.bounds import baseline_floors, clip
from logloom.detect.scoring_model import SummaryRow
from logloom.report.incidents import (
    FLOOD_COUNT,
    LOST,
    MANAGEABLE_PER_HOUR,
    IncidentReport,
    IncidentRow,
    caused,
    lasted,
    notable,
)


def fmt(value: float | None) -> str:
    """A number for a table: 4 significant digits, ``-`` for none, ``-inf``/``inf`` kept."""
    if value is None:
        return "-"
    if value != value:
        return "nan"
    return f"{value:.4g}"


def fmt_range(lower: float | None, upper: float | None, unit: str) -> str:
    if lower is None or upper is None:
        return "-"
    return f"{fmt(lower)}..{fmt(upper)} {unit}".rstrip()


def render_incidents(console: Console, report: IncidentReport | None, *, limit: int = 12) -> None:
    """What happened, where, when, for how long and what it caused, one line per
    incident (the most notable ``limit``, the rest counted), then the alarm rates."""
    if report is None:
        return
    rates = report.rates
    if not rates.total:
        console.print(f"[bold]No incidents[/] in {_hours(rates.hours)} of log")
        return
    shown, rest = notable(report.incidents, limit)
    lost = sum(r.kind == LOST for r in rest)
    head = f"[bold]{_count(rates.total, 'incident')}[/] in {_hours(rates.hours)} of log"
    if rates.open:
        head += f", {rates.open} still open"
    console.print(head)
    if shown:
        days = len({_day(r.opened, report) for r in report.incidents}) > 1
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, padding=(0, 1, 0, 0))
        for name in ("opened", "lasted", "component", "what happened", "what it caused"):
            table.add_column(name, no_wrap=name in ("opened", "lasted", "component"), overflow="fold")
        for r in shown:
            table.add_row(_when(r.opened, report, days), lasted(r), r.component,
                          f"[bold red]{r.cause}[/]" if r.kind == "fault" else r.cause, caused(r))
        console.print(table)
    others = [f"{_count(len(rest) - lost, 'more')} ({_kinds(r for r in rest if r.kind != LOST)})"] \
        if len(rest) > lost else []
    if lost:
        others.append(f"{_count(lost, 'incident')} from lost log lines (visits that ended in a jump)")
    if others:
        console.print("and " + "; ".join(others) + ": see incidents.csv")
    render_alarm_rates(console, report)


def render_alarm_rates(console: Console, report: IncidentReport) -> None:
    """Incidents per hour (overall, per component), floods and bad actors (ISA-18.2)."""
    rates = report.rates
    load = "[red]above[/]" if rates.per_hour > MANAGEABLE_PER_HOUR else "within"
    floods = (f"[bold red]{_count(len(rates.floods), 'flood')}[/]" if rates.floods else "no floods") + \
        f" (more than {FLOOD_COUNT} in 10 minutes; the most in 10 minutes: {rates.peak_10min})"
    console.print(f"alarm rate: {rates.per_hour:.2g} incidents per hour, {load} the ~{MANAGEABLE_PER_HOUR:g} "
                  f"an operator can handle (EEMUA 191); {floods}")
    console.print("  per component: " + ", ".join(f"{c} {n / max(rates.hours, 1e-9):.2g}/h"
                                                  for c, n, _ in rates.per_component[:6]))
    console.print("  bad actors: " + ", ".join(f"{a} {n} ({share:.0%})" for a, n, share in rates.bad_actors))


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 or what == "more" else f"{n} {what}s"


def _hours(hours: float) -> str:
    return f"{hours * 60:.0f} min" if hours < 1 else f"{hours:.1f} h"


def _day(t: float, report: IncidentReport) -> str:
    return _when(t, report, True)[:5]


def _when(t: float, report: IncidentReport, days: bool) -> str:
    """A log time as the log reads it (a naive log's times are counted as UTC)."""
    return datetime.fromtimestamp(t, report.clock.tz or UTC).strftime("%m-%d %H:%M:%S" if days else "%H:%M:%S")


def _kinds(rows: Iterable[IncidentRow]) -> str:
    kinds: dict[str, int] = {}
    for r in rows:
        kinds[r.kind] = kinds.get(r.kind, 0) + 1
    return ", ".join(f"{k} {n}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1]))


def render_summary(console: Console, rows: Sequence[SummaryRow],
                   not_covered: Iterable[tuple[str, str, int]] = (),
                   *, min_samples: int | None = None,
                   floors: Mapping[tuple[str, str], float] | None = None) -> None:
    """The monitor summary, compact: a headline, one line per metric with anomalies,
    the other metrics counted, and those the baseline does not cover.

    Each part is its own function of plain data, so that other sections (incidents)
    can be drawn above it.
    """
    render_headline(console, rows)
    render_anomalous_metrics(console, rows, floors or {})
    render_quiet_metrics(console, rows)
    render_not_covered(console, not_covered, min_samples)


def render_headline(console: Console, rows: Sequence[SummaryRow]) -> None:
    found = [r for r in rows if r.anomalies]
    scored = sum(r.rows for r in rows)
    if not found:
        console.print(f"[bold]No anomalies[/] in {_metrics(len(rows))} ({scored} rows)")
        return
    total = sum(r.anomalies for r in found)
    console.print(f"[bold]{total} {'anomaly' if total == 1 else 'anomalies'}[/] in {len(found)} of "
                  f"{_metrics(len(rows))} ({scored} rows)")


def render_anomalous_metrics(console: Console, rows: Sequence[SummaryRow],
                             floors: Mapping[tuple[str, str], float]) -> None:
    """One line per metric with anomalies: count, rows, by rule, worst z, baseline range.

    Names and ranges never wrap; the by-rule column does on a narrow terminal.
    """
    found = [r for r in rows if r.anomalies]
    if not found:
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, padding=0)
    table.add_column("metric", no_wrap=True)
    table.add_column("anomalies", justify="right", no_wrap=True)
    table.add_column("by rule", min_width=15, overflow="fold")
    table.add_column("worst z", justify="right", no_wrap=True)
    table.add_column("baseline range", no_wrap=True)
    for r in found:
        lower = clip(r.lower, floors.get((r.component_id, r.metric_name)))
        table.add_row(f"{r.component_id}.{r.metric_name}",
                      f"[bold red]{r.anomalies}[/]" + (f" of {r.rows}" if r.rows >= r.anomalies else ""),
                      ", ".join(f"{rule} {n}" for rule, n in sorted(r.by_rule.items())), fmt(r.worst),
                      fmt_range(lower, r.upper, r.unit) if r.covered else "[dim]not covered[/]")
    console.print(table)


def render_quiet_metrics(console: Console, rows: Sequence[SummaryRow]) -> None:
    quiet = [r for r in rows if not r.anomalies]
    if quiet and len(quiet) < len(rows):
        console.print(f"{_metrics(len(quiet))} without anomalies ({sum(r.rows for r in quiet)} rows)")


def render_not_covered(console: Console, not_covered: Iterable[tuple[str, str, int]],
                       min_samples: int | None) -> None:
    missing = list(not_covered)
    if missing:
        need = f" (min_samples {min_samples})" if min_samples is not None else ""
        console.print(f"[yellow]not covered by the baseline, not scored{need}:[/] " + ", ".join(
            f"{c}.{m} (n={n})" for c, m, n in missing))


def _metrics(n: int) -> str:
    return "1 metric" if n == 1 else f"{n} metrics"


def render_baseline(console: Console, baseline: Mapping[str, Any]) -> None:
    """``baseline show``: the header fields, then one line per component and metric (lower
    limits no lower than the ``floor`` that record wrote for durations and counts)."""
    floors = baseline_floors(baseline)
    console.print(f"[bold]{baseline.get('id', '?')}[/]  created {baseline.get('created', '?')}")
    sources = baseline.get("sources") or []
    if sources:
        console.print("sources: " + ", ".join(str(s) for s in sources))
    if baseline.get("config_sha256"):
        console.print(f"config sha256: {baseline['config_sha256']}")
    table = Table(title_justify="left")
    for name in ("component", "metric", "n", "median", "p05 .. p95", "limits", "method", "k"):
        table.add_column(name, justify="right" if name in ("n", "median", "k") else "left",
                         no_wrap=name in ("component", "metric"))
    for comp, metrics in sorted(baseline.get("metrics", {}).items()):
        for name, e in sorted(metrics.items()):
            limits = fmt_range(clip(e["lower"], floors.get((comp, name))), e["upper"], e["unit"])
            if e.get("override"):
                limits += " [cyan](override)[/]"
            table.add_row(comp, name, str(e["n"]), fmt(e["median"]),
                          f"{fmt(e['p05'])} .. {fmt(e['p95'])}", limits,
                          str(e["method"]).removeprefix("robust_"), fmt(e["k"]))
    console.print(table)


def render_baseline_list(console: Console, infos: Sequence[BaselineInfo]) -> None:
    """``baseline list``: one line per archived baseline, the active one marked."""
    if not infos:
        console.print("no baselines archived yet (run `logloom record`)")
        return
    table = Table(title_justify="left")
    for name in ("", "id", "created", "metrics", "rows", "sources"):
        # ids are typed back into `baseline show/activate`: never cut them
        table.add_column(name, justify="right" if name in ("metrics", "rows") else "left",
                         no_wrap=name in ("id", "created"), min_width=26 if name == "id" else None)
    for info in infos:
        if info.error:
            table.add_row("", info.id, "[red]unreadable[/]", "", "", info.error)
            continue
        table.add_row("[green]*[/]" if info.active else "", info.id, info.created,
                      str(info.metrics), str(info.rows), ", ".join(info.sources))
    console.print(table)
