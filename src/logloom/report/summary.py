"""Terminal tables (rich): the monitor summary and the baseline commands' output.

Takes plain data (``Scorer.summary_rows()``, a baseline dict, ``list_baselines``)
and only renders it; nothing here computes a statistic. Lower limits are shown no
lower than their metric can be (``present.clip``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from logloom.detect.baseline import BaselineInfo
from logloom.detect.scoring_model import SummaryRow
from logloom.report.present import clip


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
                      f"[bold red]{r.anomalies}[/]" + (f" of {r.rows}" if r.rows else ""),
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


def render_baseline(console: Console, baseline: Mapping[str, Any],
                    floors: Mapping[tuple[str, str], float] | None = None) -> None:
    """``baseline show``: the header fields, then one line per component and metric."""
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
            limits = fmt_range(clip(e["lower"], (floors or {}).get((comp, name))), e["upper"], e["unit"])
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
