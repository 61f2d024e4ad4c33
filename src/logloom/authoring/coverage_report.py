"""What ``logloom coverage`` prints: plain aligned text (the same on a terminal and in
a pipe) of ``Coverage.report()``; ``--json`` prints the report itself."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TextIO

from logloom.authoring.templates import MAX_TEXTS, WITHOUT_DRAIN3

SAMPLE_CHARS = 120


def render(report: dict[str, Any], out: TextIO, *, top: int = 20) -> None:
    w = out.write
    sources = ", ".join(report["sources"])
    w(f"coverage of {sources}: {report['lines']:,} lines, {report['events']:,} events, "
      f"{report['unmatched']:,} unmatched, {report['malformed']:,} malformed\n")
    w("\npatterns (in config order)\n")
    _table(out, ["pattern", "event", "hits", "first line"], [
        [p["name"], p["event"], f"{p['hits']:,}", _sample(p["sample"]) if p["sample"] else "never matched"]
        for p in report["patterns"]
    ], right={2})
    w("\ntransitions (taken; reached by a jump; synthesised inside jumps; blocked by the guard)\n")
    _table(out, ["machine", "#", "transition", "taken", "jumped to", "in jumps", "guard blocked"], [
        [t["machine"], str(t["index"]), f"{t['from']} --{t['event']}--> {t['to']}", f"{t['taken']:,}",
         f"{t['jumped_to']:,}", f"{t['synthesised']:,}", f"{t['guard_blocked']:,}"]
        for t in report["transitions"]
    ], right={1, 3, 4, 5, 6})
    w("\nnever used\n")
    never = [
        ("patterns", list(report["unused_patterns"])),
        ("events", [f"{e['event']} ({e['why']})" for e in report["events_never_produced"]]),
        ("transitions", [f"{t['machine']} #{t['index']} {t['from']} --{t['event']}--> {t['to']}"
                         for t in report["transitions_never_taken"]]),
        ("states", [f"{s['machine']}.{s['state']}" for s in report["states_never_visited"]]),
        ("components", list(report["components_without_events"])),
    ]
    for label, items in never:
        w(f"  {label + ':':<13}{', '.join(items) if items else '-'}\n")
    if report["refused"]:
        w("\nrefused (no transition from the state, no jump): " + "; ".join(
            f"{r['machine']} in {r['state']} on {r['event']} x{r['count']:,}" for r in report["refused"]) + "\n")
    if report["lost_events"]:
        w("\nevents that reached no component: " + "; ".join(
            (f"unknown target '{e['target']}' ({e['event']})" if e["target"] is not None else
             f"{e['outcome']} {e['event']}") + f" x{e['count']:,}" for e in report["lost_events"]) + "\n")
    if report["malformed_lines"]:
        w("\nmalformed lines: " + "; ".join(
            f"{m['reason']} x{m['count']:,} (first: {_sample(m['sample'])})" for m in report["malformed_lines"]) + "\n")
    _templates(report, out, top)


def _templates(report: dict[str, Any], out: TextIO, top: int) -> None:
    templates = report["unmatched_templates"]
    w = out.write
    if templates is None:
        w(f"\nunmatched lines: {report['unmatched']:,}, not clustered: {WITHOUT_DRAIN3}\n")
        return
    if not templates:
        w("\nno unmatched lines\n" if not report["unmatched"] else "")
        return
    w(f"\nunmatched lines: {report['unmatched']:,} in {len(templates)} template{'s' if len(templates) > 1 else ''}"
      + (f", the {top} most frequent shown (--top)" if len(templates) > top else "") + "\n")
    width = max(len(f"{t['count']:,}") for t in templates[:top])
    for t in templates[:top]:
        pad = " " * (width + 2)
        w(f"  {t['count']:>{width},}  {t['template']}\n")
        w(f"  {pad}sample: {_sample(t['sample'])}\n")
        w(f"  {pad}regex:  {t['regex']}\n")
    if report["not_clustered"]:
        w(f"  ({report['not_clustered']:,} lines whose text came after the first {MAX_TEXTS:,} distinct ones "
          "were counted, not clustered)\n")


def _sample(sample: dict[str, Any]) -> str:
    text = sample["text"]
    if len(text) > SAMPLE_CHARS:
        text = text[: SAMPLE_CHARS - 3] + "..."
    return f"line {sample['line']}: {text}"


def _table(out: TextIO, header: Sequence[str], rows: list[list[str]], *, right: set[int]) -> None:
    """Columns aligned to their widest cell; the last column is never padded."""
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=False)]
    for row in [list(header), *rows]:
        cells = []
        for i, cell in enumerate(row):
            if i == len(row) - 1 and i not in right:
                cells.append(cell)
            else:
                cells.append(cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]))
        out.write("  " + "  ".join(cells).rstrip() + "\n")
