"""Output files: buffered, ordered, partitioned CSV writers and the rejected-lines log.

Every sink knows the byte length of each file it owns and a digest of the bytes
before that end, can flush and fsync, and can be truncated back to recorded
lengths (resume) after checking that the file still ends there as it was written.
Rows are formatted here and only here. Files are opened with ``O_NOFOLLOW``; a
write the environment refuses is an ``OutputError``, and the file is cut back to
its last whole flush so that its recorded length stays true. incidents.csv is
append-only up to its last closed incident; the open ones follow and are rewritten
at every flush (``IncidentSink``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

from logloom.errors import StateFileError
from logloom.logtime.timestamps import TimeFormatter
from logloom.outputs.csv_block import MetricColumns
from logloom.outputs.state_store import (
    CHECKPOINT,
    START_OVER,
    TAIL_BYTES,
    ensure_dir,
    open_for_write,
    output_error,
    tail_digest,
)
from logloom.records import ANOMALIES_HEADER, INCIDENTS_HEADER, METRICS_HEADER, Anomaly, Incident, MetricRow, Rows

FLUSH_BYTES = 1 << 18


def _num(x: float) -> str:
    return repr(round(float(x), 6))


def metric_lines(rows: Iterable[MetricRow], fmt_ts: Callable[[int], str]) -> list[str]:
    """The process_metrics.csv lines of ``rows``, each ending in a newline."""
    rows = Rows.of(rows)
    lines = []
    last_ts, ts_text = None, ""
    around: dict[int, tuple[str, str]] = {}  # a series' text before and after the value
    for ts, sid, value in zip(rows.ts, rows.ids, rows.values, strict=True):
        if ts != last_ts:
            last_ts, ts_text = ts, fmt_ts(ts)
        texts = around.get(sid)
        if texts is None:
            cid, name, unit, ctx = rows.series[sid]
            texts = around[sid] = (f",{cid},{name},", f",{unit},{ctx}\n")
        # the engine writes values rounded to 6 decimals (SPEC 5); round() here would
        # cost a fifth of the main process, so the value is written as repr has it
        lines.append(f"{ts_text}{texts[0]}{value!r}{texts[1]}")
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


class TextSink:
    """Appends text to files of one stem, starting a new part past ``max_bytes``.

    Parts are ``<stem>.<ext>``, ``<stem>_part2.<ext>``, ... each starting with the
    header; a line is never split. ``lengths()`` tells the bytes of every part as
    they are after ``flush()``, ``tails()`` a digest of each part's last bytes.
    """

    def __init__(
        self,
        directory: Path,
        stem: str,
        ext: str,
        header: str | None,
        max_bytes: float = float("inf"),
        lengths: dict[str, int] | None = None,
        tails: dict[str, str] | None = None,
    ) -> None:
        self.directory = directory
        self.stem = stem
        self.ext = ext
        self.header = header + "\n" if header else ""
        self._header = self.header.encode("utf-8")
        self.max_bytes = max_bytes
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._sizes: list[int] = []
        self._tails: list[bytes] = []  # the last TAIL_BYTES written to each part
        ensure_dir(directory)
        self._restore(lengths or {}, tails or {})
        self._fh = self._open(self.part_path(len(self._sizes)), os.O_WRONLY | os.O_APPEND)

    def part_path(self, number: int) -> Path:
        suffix = "" if number == 1 else f"_part{number}"
        return self.directory / f"{self.stem}{suffix}.{self.ext}"

    @staticmethod
    def _open(path: Path, flags: int) -> BinaryIO:
        """An unbuffered file: what ``flush`` hands over is with the OS, nothing is left
        in a buffer to be written (or fail) when the object is collected."""
        return os.fdopen(open_for_write(path, flags | os.O_CREAT), "wb", buffering=0)

    def _restore(self, lengths: dict[str, int], tails: dict[str, str]) -> None:
        """Truncate the parts back to ``lengths``; remove parts it does not know.

        A part must still hold, before its recorded end, the bytes that were written
        there (``tails``): an edit before the end would otherwise merge rows.
        """
        number = 1
        while True:
            path = self.part_path(number)
            if path.name in lengths:
                size = lengths[path.name]
                with self._open(path, os.O_RDWR) as fh:
                    self._check_end(path, fh, size, tails.get(path.name))
                    try:
                        fh.truncate(size)
                    except OSError as exc:
                        raise output_error(path, exc) from None
                    self._tails.append(os.pread(fh.fileno(), min(size, TAIL_BYTES), size - min(size, TAIL_BYTES)))
                self._sizes.append(size)
            elif path.is_symlink() or path.exists():
                path.unlink()
            elif number > len(lengths) + 1:
                break
            number += 1
        if not self._sizes:
            with self._open(self.part_path(1), os.O_WRONLY | os.O_TRUNC) as fh:
                self._write_all(self.part_path(1), fh, self._header)
            self._sizes.append(len(self._header))
            self._tails.append(self._header[-TAIL_BYTES:])

    @staticmethod
    def _check_end(path: Path, fh: BinaryIO, size: int, digest: str | None) -> None:
        have = os.fstat(fh.fileno()).st_size
        way_out = START_OVER.format(state=path.parent / CHECKPOINT)
        if have < size:
            raise StateFileError(f"{path}: {have} bytes, shorter than the {size} that {CHECKPOINT} counts (it was "
                                 f"truncated, edited or restored from an older copy); {way_out}")
        if digest is None or size == 0:
            return
        before = os.pread(fh.fileno(), min(size, TAIL_BYTES), size - min(size, TAIL_BYTES))
        if tail_digest(before) != digest or not before.endswith(b"\n"):
            raise StateFileError(f"{path}: the bytes before byte {size}, where {CHECKPOINT} says it ends, are not "
                                 f"what logloom wrote there (the file was edited); {way_out}")

    @staticmethod
    def _write_all(path: Path, fh: BinaryIO, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[fh.write(view) or 0 :]
        except OSError as exc:
            raise output_error(path, exc) from None

    def write(self, text: str) -> None:
        self._write(text.encode("utf-8"))

    def _write(self, data: bytes) -> None:
        if self._sizes[-1] + self._buffered > self.max_bytes and (
            self._sizes[-1] + self._buffered > len(self._header)
        ):
            self._new_part()
        self._buffer.append(data)
        self._buffered += len(data)
        if self._buffered >= FLUSH_BYTES:
            self.flush()

    def write_block(self, data: bytes) -> None:
        """Write whole lines (UTF-8, each ending in a newline) at once; split per line
        only where a part may end inside."""
        size = len(data)
        if self._sizes[-1] + self._buffered + size <= self.max_bytes:
            self._buffer.append(data)
            self._buffered += size
            if self._buffered >= FLUSH_BYTES:
                self.flush()
        else:
            for line in data.splitlines(keepends=True):
                self._write(line)

    def _new_part(self) -> None:
        self.flush()
        self._fh.close()
        path = self.part_path(len(self._sizes) + 1)
        self._fh = self._open(path, os.O_WRONLY | os.O_TRUNC)
        self._buffer = [self._header] if self._header else []
        self._buffered = len(self._header)
        self._sizes.append(0)
        self._tails.append(b"")
        self.flush()

    def flush(self, *, sync: bool = False) -> None:
        """Hand the buffer to the OS (and, with ``sync``, to the disk).

        If the OS refuses part of it (a full disk), the part is cut back to its last
        whole flush before the ``OutputError``: ``lengths`` stays what is on disk.
        """
        path = self.part_path(len(self._sizes))
        if self._buffer:
            data = b"".join(self._buffer)
            try:
                self._write_all(path, self._fh, data)
            except BaseException:
                with contextlib.suppress(OSError):  # if not, the checkpoint's lengths still tell where to cut
                    os.ftruncate(self._fh.fileno(), self._sizes[-1])
                raise
            self._sizes[-1] += len(data)
            self._tails[-1] = (self._tails[-1] + data)[-TAIL_BYTES:]
            self._buffer = []
            self._buffered = 0
        if sync:
            try:
                os.fsync(self._fh.fileno())
            except OSError as exc:
                raise output_error(path, exc) from None

    def lengths(self) -> dict[str, int]:
        """Bytes of every part, as on disk after the last flush."""
        return {self.part_path(i + 1).name: n for i, n in enumerate(self._sizes)}

    def tails(self) -> dict[str, str]:
        """A digest of the last bytes of every part after the last flush (see ``_restore``)."""
        return {self.part_path(i + 1).name: tail_digest(t) for i, t in enumerate(self._tails)}

    def paths(self) -> list[Path]:
        return [self.part_path(i + 1) for i in range(len(self._sizes))]

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._fh.close()


class MetricsSink(TextSink):
    """process_metrics.csv and its parts.

    With a ``TimeFormatter`` of naive ISO times (the default output), a block's rows are
    formatted column by column (``csv_block``: the same bytes as ``metric_lines``).
    """

    def __init__(self, directory: Path, fmt_ts: Callable[[int], str], max_bytes: float,
                 lengths: dict[str, int] | None = None, stem: str = "process_metrics",
                 tails: dict[str, str] | None = None) -> None:
        super().__init__(directory, stem, "csv", METRICS_HEADER, max_bytes, lengths, tails)
        self.fmt_ts = fmt_ts
        self._columns: MetricColumns | None = None
        if isinstance(fmt_ts, TimeFormatter):
            self.fmt_ts = fmt_ts.format_new  # metric_lines keeps its own one-entry cache
            if fmt_ts.mode == "iso" and fmt_ts.tz is None:
                self._columns = MetricColumns()

    def write_rows(self, rows: Iterable[MetricRow]) -> None:
        """Fastest given as ``Rows`` (the engine's columns)."""
        rows = Rows.of(rows)
        data = self._columns.lines(rows) if self._columns is not None else None
        if data is None:
            data = "".join(metric_lines(rows, self.fmt_ts)).encode("utf-8")
        self.write_block(data)


class AnomalySink(TextSink):
    """anomalies.csv (one file)."""

    def __init__(self, directory: Path, fmt_ts: Callable[[int], str],
                 lengths: dict[str, int] | None = None, tails: dict[str, str] | None = None) -> None:
        super().__init__(directory, "anomalies", "csv", ANOMALIES_HEADER, float("inf"), lengths, tails)
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
                 open_rows: Callable[[], list[Incident]], lengths: dict[str, int] | None = None,
                 tails: dict[str, str] | None = None) -> None:
        super().__init__(directory, "incidents", "csv", INCIDENTS_HEADER, float("inf"), lengths, tails)
        self.fmt_ts = fmt_ts
        self.open_rows = open_rows
        self._tail = 0  # bytes of open rows on disk after the closed ones

    def write_incidents(self, incidents: Iterable[Incident]) -> None:
        for inc in incidents:
            self.write(format_incident(inc, self.fmt_ts))

    def flush(self, *, sync: bool = False) -> None:
        path = self.part_path(1)
        if self._tail:  # closed rows go where the open ones were
            try:
                self._fh.truncate(self._sizes[-1])
            except OSError as exc:
                raise output_error(path, exc) from None
            self._tail = 0
        super().flush()
        tail = "".join(format_incident(inc, self.fmt_ts) for inc in self.open_rows()).encode("utf-8")
        if tail:
            self._tail = len(tail)  # before the write: a part of it on disk is cut the next time
            self._write_all(path, self._fh, tail)
        if sync:
            try:
                os.fsync(self._fh.fileno())
            except OSError as exc:
                raise output_error(path, exc) from None


class RejectedSink(TextSink):
    """rejected_lines.log: ``<source>:<line>: <reason>: <text>``, the text cut at 500 chars."""

    def __init__(self, directory: Path, lengths: dict[str, int] | None = None,
                 tails: dict[str, str] | None = None) -> None:
        super().__init__(directory, "rejected_lines", "log", None, float("inf"), lengths, tails)

    def reject(self, source: str, line_no: int, reason: str, text: str) -> None:
        shown = text if len(text) <= 500 else text[:500] + f"... ({len(text)} chars)"
        shown = shown.replace("\r", "\\r").replace("\x00", "\\x00")
        self.write(f"{source}:{line_no}: {reason}: {shown}\n")
