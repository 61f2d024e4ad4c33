"""Output files: buffered, ordered, partitioned CSV writers and the rejected-lines log.

Every sink knows the byte length of each file it owns, can flush and fsync, and can
be truncated back to recorded lengths (resume). Rows are formatted here and only here.
incidents.csv is append-only up to its last closed incident; the open ones follow
and are rewritten at every flush (``IncidentSink``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from logloom.records import ANOMALIES_HEADER, INCIDENTS_HEADER, METRICS_HEADER, Anomaly, Incident, MetricRow

FLUSH_BYTES = 1 << 18


def _num(x: float) -> str:
    return repr(round(float(x), 6))


def metric_lines(rows: Iterable[MetricRow], fmt_ts: Callable[[int], str]) -> list[str]:
    """The process_metrics.csv lines of ``rows``, each ending in a newline."""
    lines = []
    last_ts, ts_text = None, ""
    for ts, cid, name, value, unit, ctx in rows:
        if ts != last_ts:
            last_ts, ts_text = ts, fmt_ts(ts)
        # the engine writes values rounded to 6 decimals (SPEC 5); round() here would
        # cost a fifth of the main process, so the value is written as repr has it
        lines.append(f"{ts_text},{cid},{name},{value!r},{unit},{ctx}\n")
    return lines


def format_anomaly(a: Anomaly, ts_text: str) -> str:
    return (
        f"{ts_text},{a.component_id},{a.metric_name},{_num(a.value)},{a.unit},"
        f"{a.state_context},{_num(a.expected)},{_num(a.lower)},{_num(a.upper)},"
        f"{_num(a.score)},{a.rule}\n"
    )


def format_incident(inc: Incident, fmt_ts: Callable[[int], str]) -> str:
    p = inc.peak
    closed = "" if inc.closed is None else fmt_ts(inc.closed)
    return (
        f"{fmt_ts(inc.opened)},{closed},{inc.component_id},{';'.join(inc.metrics)},{inc.id},{inc.kind},"
        f"{inc.state},{';'.join(inc.rules)},{inc.anomalies},{p.metric_name},{_num(p.value)},{p.unit},"
        f"{_num(p.expected)},{_num(p.score)},{';'.join(inc.effects)},{inc.effect_anomalies},{inc.cause}\n"
    )


def _nbytes(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8"))


class TextSink:
    """Appends text to files of one stem, starting a new part past ``max_bytes``.

    Parts are ``<stem>.<ext>``, ``<stem>_part2.<ext>``, ... each starting with the
    header; a line is never split. ``lengths()`` tells the bytes of every part as
    they are after ``flush()``.
    """

    def __init__(
        self,
        directory: Path,
        stem: str,
        ext: str,
        header: str | None,
        max_bytes: float = float("inf"),
        lengths: dict[str, int] | None = None,
    ) -> None:
        self.directory = directory
        self.stem = stem
        self.ext = ext
        self.header = header + "\n" if header else ""
        self.max_bytes = max_bytes
        self._buffer: list[str] = []
        self._buffered = 0
        self._sizes: list[int] = []
        directory.mkdir(parents=True, exist_ok=True)
        self._restore(lengths or {})
        self._fh = open(self.part_path(len(self._sizes)), "ab")  # noqa: SIM115

    def part_path(self, number: int) -> Path:
        suffix = "" if number == 1 else f"_part{number}"
        return self.directory / f"{self.stem}{suffix}.{self.ext}"

    def _restore(self, lengths: dict[str, int]) -> None:
        """Truncate the parts back to ``lengths``; remove parts it does not know."""
        number = 1
        while True:
            path = self.part_path(number)
            if path.name in lengths:
                size = lengths[path.name]
                with open(path, "ab") as fh:
                    if fh.tell() < size:
                        raise OSError(f"{path} is shorter ({fh.tell()} bytes) than its checkpoint ({size})")
                    fh.truncate(size)
                self._sizes.append(size)
            elif path.exists():
                path.unlink()
            elif number > len(lengths) + 1:
                break
            number += 1
        if not self._sizes:
            path = self.part_path(1)
            path.write_text(self.header, encoding="utf-8")
            self._sizes.append(_nbytes(self.header))

    def write(self, text: str) -> None:
        size = _nbytes(text)
        if self._sizes[-1] + self._buffered > self.max_bytes and (
            self._sizes[-1] + self._buffered > _nbytes(self.header)
        ):
            self._new_part()
        self._buffer.append(text)
        self._buffered += size
        if self._buffered >= FLUSH_BYTES:
            self.flush()

    def write_block(self, text: str) -> None:
        """Write whole lines at once; split per line only where a part may end inside."""
        size = _nbytes(text)
        if self._sizes[-1] + self._buffered + size <= self.max_bytes:
            self._buffer.append(text)
            self._buffered += size
            if self._buffered >= FLUSH_BYTES:
                self.flush()
        else:
            for line in text.splitlines(keepends=True):
                self.write(line)

    def _new_part(self) -> None:
        self.flush()
        self._fh.close()
        path = self.part_path(len(self._sizes) + 1)
        self._fh = open(path, "wb")  # noqa: SIM115
        self._buffer = [self.header] if self.header else []
        self._buffered = _nbytes(self.header)
        self._sizes.append(0)
        self.flush()

    def flush(self, *, sync: bool = False) -> None:
        if self._buffer:
            self._fh.write("".join(self._buffer).encode("utf-8"))
            self._sizes[-1] += self._buffered
            self._buffer = []
            self._buffered = 0
        self._fh.flush()
        if sync:
            os.fsync(self._fh.fileno())

    def lengths(self) -> dict[str, int]:
        """Bytes of every part, as on disk after the last flush."""
        return {self.part_path(i + 1).name: n for i, n in enumerate(self._sizes)}

    def paths(self) -> list[Path]:
        return [self.part_path(i + 1) for i in range(len(self._sizes))]

    def close(self) -> None:
        self.flush()
        self._fh.close()


class MetricsSink(TextSink):
    """process_metrics.csv and its parts."""

    def __init__(self, directory: Path, fmt_ts: Callable[[int], str], max_bytes: float,
                 lengths: dict[str, int] | None = None, stem: str = "process_metrics") -> None:
        super().__init__(directory, stem, "csv", METRICS_HEADER, max_bytes, lengths)
        self.fmt_ts = fmt_ts

    def write_rows(self, rows: Iterable[MetricRow]) -> None:
        self.write_block("".join(metric_lines(rows, self.fmt_ts)))


class AnomalySink(TextSink):
    """anomalies.csv (one file)."""

    def __init__(self, directory: Path, fmt_ts: Callable[[int], str],
                 lengths: dict[str, int] | None = None) -> None:
        super().__init__(directory, "anomalies", "csv", ANOMALIES_HEADER, float("inf"), lengths)
        self.fmt_ts = fmt_ts

    def write_anomalies(self, anomalies: Iterable[Anomaly]) -> None:
        for a in anomalies:
            self.write(format_anomaly(a, self.fmt_ts(a.ts)))


class IncidentSink(TextSink):
    """incidents.csv: the closed incidents in the order they closed, then the open ones
    (``closed`` empty) as ``open_rows`` gives them, rewritten at every flush.

    ``lengths`` counts the closed rows only: a resume truncates the file to them, and
    the open incidents, restored with the rest of the state, follow again.
    """

    def __init__(self, directory: Path, fmt_ts: Callable[[int], str],
                 open_rows: Callable[[], list[Incident]], lengths: dict[str, int] | None = None) -> None:
        super().__init__(directory, "incidents", "csv", INCIDENTS_HEADER, float("inf"), lengths)
        self.fmt_ts = fmt_ts
        self.open_rows = open_rows
        self._tail = 0  # bytes of open rows on disk after the closed ones

    def write_incidents(self, incidents: Iterable[Incident]) -> None:
        for inc in incidents:
            self.write(format_incident(inc, self.fmt_ts))

    def flush(self, *, sync: bool = False) -> None:
        if self._tail:  # closed rows go where the open ones were
            self._fh.truncate(self._sizes[-1])
            self._tail = 0
        super().flush()
        tail = "".join(format_incident(inc, self.fmt_ts) for inc in self.open_rows()).encode("utf-8")
        if tail:
            self._fh.write(tail)
            self._fh.flush()
            self._tail = len(tail)
        if sync:
            os.fsync(self._fh.fileno())


class RejectedSink(TextSink):
    """rejected_lines.log: ``<source>:<line>: <reason>: <text>``, the text cut at 500 chars."""

    def __init__(self, directory: Path, lengths: dict[str, int] | None = None) -> None:
        super().__init__(directory, "rejected_lines", "log", None, float("inf"), lengths)

    def reject(self, source: str, line_no: int, reason: str, text: str) -> None:
        shown = text if len(text) <= 500 else text[:500] + f"... ({len(text)} chars)"
        shown = shown.replace("\r", "\\r").replace("\x00", "\\x00")
        self.write(f"{source}:{line_no}: {reason}: {shown}\n")
