"""The metric rows as a Parquet dataset, appended exactly once like the CSV.

Layout (hive partitioning, one partition per source)::

    <root>/source=<name>/part-00001.parquet      closed parts, never rewritten
    <root>/source=<name>/.part-00002.parquet.tmp the open part (no footer yet)
    <staging>/source=<name>/part-00002.arrows    the open part's rows, Arrow IPC stream

A Parquet file is readable only once its footer is written, so the rows of the open
part are also appended to an Arrow IPC stream (the staging file), which, like a
CSV, is readable up to any batch boundary. The checkpoint records the byte size of
every closed part and the staging file's length (``lengths``); resume removes parts
it does not record, truncates the staging file and writes the open part again from
it. A part closes at ``part_rows`` rows (row groups of a tenth of that), after
``roll_seconds`` in a followed run, and at the end of a run; its temporary file is
then fsynced and renamed into place. Parts and row groups are cut at fixed row
counts, so a run stopped and resumed writes the same bytes as one that never
stopped. Memory holds one row group, whatever the run's length.

pyarrow is an optional extra (``logloom[fleet]``): this module is imported only when
Parquet is asked for (``run.py`` says how to install it when it is missing).
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from logloom.errors import InputError, StateFileError
from logloom.outputs.state_store import fsync_dir
from logloom.records import INFERRED_SUFFIX, MetricRow

PART_ROWS = 1_000_000
ROLL_SECONDS = 300.0
KEY_PREFIX = "parquet:"
STAGING_DIR = "parquet-staging"
_PART_RE = re.compile(r"^part-(\d{5,})\.parquet$")
_STAGE_RE = re.compile(r"^part-(\d{5,})\.arrows$")
_ROWS_RE = re.compile(r"^part-(\d{5,})\.rows$")


def metrics_schema(tz: str | None) -> pa.Schema:
    """The CSV's columns with a real timestamp type, plus ``inferred`` and ``pallet``.

    ``tz``: the zone of the run's instants (``UTC`` for epoch input), None for naive
    wall-clock readings (then the column is a timestamp without a zone).
    """
    return pa.schema([
        ("timestamp", pa.timestamp("us", tz=tz)),
        ("component_id", pa.string()),
        ("metric_name", pa.string()),
        ("value", pa.float64()),
        ("unit", pa.string()),
        ("state_context", pa.string()),
        ("inferred", pa.bool_()),
        ("pallet", pa.string()),
    ])


def _part_name(number: int) -> str:
    return f"part-{number:05d}.parquet"


class ParquetSink:
    """One source's partition of the dataset; the same interface as the CSV sinks
    (``flush``, ``lengths``, ``close``) plus ``committed``: a checkpoint naming
    ``lengths()`` is durable, so the staging files of parts closed before it may go."""

    def __init__(self, root: Path, source: str, staging_root: Path, tz: str | None,
                 lengths: dict[str, int] | None = None, *, part_rows: int = PART_ROWS,
                 roll_seconds: float | None = None) -> None:
        if not source or "/" in source or source in (".", ".."):
            raise InputError(f"{source!r}: not a usable Parquet source name")
        self.partition = f"source={source}"
        self.directory = root / self.partition
        self.staging_dir = staging_root / self.partition
        self.schema = metrics_schema(tz)
        self.part_rows = max(1, int(part_rows))
        self.group_rows = max(1, min(100_000, self.part_rows // 10))
        self.roll_seconds = roll_seconds
        self.directory.mkdir(parents=True, exist_ok=True)
        self.staging_dir.mkdir(parents=True, exist_ok=True)
        self._parts: dict[str, int] = {}  # closed part -> bytes
        self._number = 1  # the open part
        self._rows: list[MetricRow] = []  # written since the last flush
        self._pallets: list[str | None] = []
        self._group: list[pa.RecordBatch] = []  # the open row group
        self._group_n = 0
        self._part_n = 0  # rows in the open part
        self._opened = time.monotonic()
        self._writer: Any = None  # pq.ParquetWriter of the open part
        self._stage: BinaryIO | None = None
        self._stage_len = 0
        self._obsolete: list[Path] = []  # staging files of closed parts, until committed
        self._recorded = self._committed = (0, -1)  # (open part, staged rows) of lengths(), of the durable one
        self._restore({k.removeprefix(KEY_PREFIX): v for k, v in (lengths or {}).items()
                       if k.startswith(KEY_PREFIX + self.partition + "/")})

    # -- paths ---------------------------------------------------------------------------
    def _key(self, name: str) -> str:
        return f"{KEY_PREFIX}{self.partition}/{name}"

    def _tmp(self, number: int) -> Path:
        return self.directory / f".{_part_name(number)}.tmp"

    def _stage_path(self, number: int) -> Path:
        return self.staging_dir / f"part-{number:05d}.arrows"

    def paths(self) -> list[Path]:
        return [self.directory / name for name in sorted(self._parts)]

    # -- resume ----------------------------------------------------------------------------
    def _restore(self, recorded: dict[str, int]) -> None:
        """Make the partition what the checkpoint recorded; reopen the open part."""
        prefix = self.partition + "/"
        parts = {k.removeprefix(prefix): v for k, v in recorded.items() if _PART_RE.match(k.removeprefix(prefix))}
        staged = [(int(m.group(1)), v) for k, v in recorded.items() if (m := _STAGE_RE.match(k.removeprefix(prefix)))]
        stage_no, stage_len = staged[0] if staged else (0, 0)
        rows = {int(m.group(1)): v for k, v in recorded.items() if (m := _ROWS_RE.match(k.removeprefix(prefix)))}
        for name, size in parts.items():
            path = self.directory / name
            actual = path.stat().st_size if path.exists() else -1
            if actual != size:
                raise StateFileError(f"{path}: {'missing' if actual < 0 else f'{actual} bytes'}, the checkpoint "
                                     f"recorded {size}; a closed Parquet part changed behind logloom's back")
        self._parts = dict(parts)
        numbers = [int(m.group(1)) for n in parts if (m := _PART_RE.match(n))]
        self._number = max([*numbers, stage_no - 1, 0]) + 1
        rebuild = stage_no > 0 and not self._adopt(stage_no, rows.get(stage_no))
        for path in self.directory.iterdir():  # parts and temp files the checkpoint does not know
            if (_PART_RE.match(path.name) and path.name not in self._parts) or path.name.endswith(".parquet.tmp"):
                path.unlink()
        for path in self.staging_dir.iterdir():
            if not (rebuild and path.name == self._stage_path(stage_no).name):
                path.unlink()
        if rebuild:
            self._rebuild(stage_len)
            self._recorded = self._committed = (self._number, self._part_n)  # what the checkpoint holds
        fsync_dir(self.directory)

    def _adopt(self, number: int, rows: int | None) -> bool:
        """A part closed after the last checkpoint (at the end of the run) holding exactly
        the rows the checkpoint recorded as staged is kept as it is."""
        part = self.directory / _part_name(number)
        if rows is None or not part.exists():
            return False
        try:
            adopt = pq.ParquetFile(part).metadata.num_rows == rows
        except (OSError, pa.ArrowInvalid):
            return False
        if adopt:
            self._parts[part.name] = part.stat().st_size
            self._number = number + 1
        return adopt

    def _read_stage(self, number: int, length: int) -> list[pa.RecordBatch]:
        path = self._stage_path(number)
        size = path.stat().st_size if path.exists() else -1
        if size < length:
            raise StateFileError(f"{path} is shorter ({size} bytes) than its checkpoint ({length}); "
                                 "move the data directory's checkpoint aside to start over")
        with open(path, "rb") as fh:
            payload = fh.read(length)
        return list(pa.ipc.open_stream(pa.py_buffer(payload))) if payload else []

    def _rebuild(self, length: int) -> None:
        """The open part again from its staging file, cut back to the recorded length."""
        batches = self._read_stage(self._number, length)
        with open(self._stage_path(self._number), "r+b") as fh:
            fh.truncate(length)
        for batch in batches:
            self._add(batch)
        self._stage = open(self._stage_path(self._number), "ab")  # noqa: SIM115
        self._stage_len = length

    # -- writing -------------------------------------------------------------------------
    def write_rows(self, rows: Sequence[MetricRow], pallets: Sequence[str | None]) -> None:
        """Rows in the CSV's order, with the pallet each component held when it wrote them."""
        self._rows += rows
        self._pallets += pallets
        if len(self._rows) >= self.group_rows:
            self.flush()

    def _batch(self, rows: list[MetricRow], pallets: list[str | None]) -> pa.RecordBatch:
        ts, cid, name, value, unit, ctx = zip(*rows, strict=True)
        contexts = pa.array(ctx, pa.string())
        return pa.record_batch([
            pa.array(ts, self.schema.field("timestamp").type), pa.array(cid, pa.string()),
            pa.array(name, pa.string()), pa.array(value, pa.float64()), pa.array(unit, pa.string()),
            contexts, pc.ends_with(contexts, INFERRED_SUFFIX), pa.array(pallets, pa.string()),
        ], schema=self.schema)

    def flush(self, *, sync: bool = False) -> None:
        rows, pallets = self._rows, self._pallets
        self._rows, self._pallets = [], []
        start = 0
        while start < len(rows):
            take = min(len(rows) - start, self.part_rows - self._part_n)
            batch = self._batch(rows[start:start + take], pallets[start:start + take])
            start += take
            if self._part_n + take < self.part_rows:
                self._append_stage(batch)  # the part stays open: its rows must survive a kill
                self._add(batch)
            else:  # the part closes now: its own rename makes these rows durable
                self._add(batch)
                self._close_part()
        if (self.roll_seconds is not None and self._part_n
                and time.monotonic() - self._opened >= self.roll_seconds):
            self._close_part()
        if sync and self._stage is not None:
            self._stage.flush()
            os.fsync(self._stage.fileno())

    def _append_stage(self, batch: pa.RecordBatch) -> None:
        if self._stage is None:
            self._stage = open(self._stage_path(self._number), "wb")  # noqa: SIM115
            header = self.schema.serialize().to_pybytes()
            self._stage.write(header)
            self._stage_len = len(header)
            fsync_dir(self.staging_dir)
        payload = batch.serialize().to_pybytes()
        self._stage.write(payload)
        self._stage.flush()
        self._stage_len += len(payload)

    def _add(self, batch: pa.RecordBatch) -> None:
        """Into the open part: whole row groups of ``group_rows`` go to its temp file."""
        if self._part_n == 0:
            self._opened = time.monotonic()
        self._group.append(batch)
        self._group_n += batch.num_rows
        self._part_n += batch.num_rows
        while self._group_n >= self.group_rows:
            table = pa.Table.from_batches(self._group, self.schema)
            self._write_group(table.slice(0, self.group_rows))
            rest = table.slice(self.group_rows)
            self._group = rest.combine_chunks().to_batches() if rest.num_rows else []
            self._group_n = rest.num_rows

    def _write_group(self, table: pa.Table) -> None:
        if self._writer is None:
            self._writer = pq.ParquetWriter(self._tmp(self._number), self.schema, compression="zstd")
        # one contiguous chunk: the bytes then do not depend on how rows were batched
        self._writer.write_table(table.combine_chunks(), row_group_size=self.group_rows)

    def _close_part(self) -> None:
        """Footer, fsync, rename: part N is final; its staging file waits for a checkpoint."""
        if self._group_n:
            self._write_group(pa.Table.from_batches(self._group, self.schema))
            self._group, self._group_n = [], 0
        if self._writer is None:
            return
        self._writer.close()
        self._writer = None
        tmp, final = self._tmp(self._number), self.directory / _part_name(self._number)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
        fsync_dir(self.directory)
        self._parts[final.name] = final.stat().st_size
        if self._stage is not None:
            self._stage.close()
            self._stage = None
            self._obsolete.append(self._stage_path(self._number))
        self._stage_len = 0
        self._number += 1
        self._part_n = 0

    # -- checkpointing ---------------------------------------------------------------------
    def lengths(self) -> dict[str, int]:
        """Closed parts' sizes, and the staging file's length and rows, as of the last flush."""
        out = {self._key(name): size for name, size in self._parts.items()}
        if self._stage is not None:
            out[self._key(self._stage_path(self._number).name)] = self._stage_len
            out[self._key(f"part-{self._number:05d}.rows")] = self._part_n
        self._recorded = (self._number, self._part_n if self._stage is not None else -1)
        return out

    def committed(self) -> None:
        """A checkpoint of ``lengths()`` is durable: staging files of closed parts go."""
        for path in self._obsolete:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        self._obsolete = []
        self._committed = self._recorded

    def close(self) -> None:
        """Close the open part (a run's rows are all in the dataset when it ends).

        When the last durable checkpoint recorded exactly these rows as staged (monitor
        checkpoints just before it closes), the next run keeps the part as it is
        (``_adopt``), so its staging file is no longer needed and goes now.
        """
        self.flush(sync=True)
        closing = (self._number, self._part_n)
        self._close_part()
        if self._stage is not None:
            self._stage.close()
            self._stage = None
        if closing == self._committed and closing[1] > 0:
            stage = self._stage_path(closing[0])
            self._obsolete = [p for p in self._obsolete if p != stage]
            with contextlib.suppress(FileNotFoundError):
                stage.unlink()
