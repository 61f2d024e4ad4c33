"""What a run needs to write Parquet besides the rows: its options, the pallet of each
row, and the sink opened with pyarrow (an optional extra) imported only then.

Kept out of ``run`` so that a run without ``--parquet`` never touches pyarrow.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from logloom.errors import InputError
from logloom.records import MetricRow, Observer

if TYPE_CHECKING:
    from logloom.outputs.parquet import ParquetSink


@dataclass
class ParquetOptions:
    """Where the Parquet dataset goes: ``<root>/source=<source>/`` (default root DATA/parquet;
    default source the log file's name without its extension)."""

    root: Path | None = None
    source: str | None = None
    part_rows: int = 1_000_000


class PalletTap(Observer):
    """The pallet each component holds when it writes a row, in the rows' order.

    A block's rows are written after the block, when the components may hold other
    pallets: the pallets are taken as each row is made. ``take(n)`` returns those of
    the first ``n`` rows seen (a failing line's rows, seen but not written, are dropped).
    """

    def __init__(self, components: dict[str, Any]) -> None:
        self._components = components
        self._pallets: list[str | None] = []

    def on_row(self, row: MetricRow) -> None:
        self._pallets.append(self._components[row.component_id].pallet)

    def take(self, n: int) -> list[str | None]:
        taken = self._pallets[:n]
        self._pallets = []
        return taken


def open_parquet_sink(options: ParquetOptions, log: Path, follow: bool, out_dir: Path, tz: Any,
                      lengths: dict[str, int] | None) -> ParquetSink:
    """The Parquet sink of a run reading ``log`` (pyarrow, an optional extra, is imported only now)."""
    try:
        from logloom.outputs.parquet import ROLL_SECONDS, STAGING_DIR, ParquetSink
    except ImportError as exc:
        if not (exc.name or "").startswith("pyarrow"):
            raise
        raise InputError("--parquet needs pyarrow: pip install 'logloom[fleet]'") from None
    source = options.source or ("stdin" if str(log) == "-" else log.stem)
    root = options.root or out_dir / "parquet"
    return ParquetSink(root, source, out_dir / STAGING_DIR, None if tz is None else str(tz), lengths,
                       part_rows=options.part_rows, roll_seconds=ROLL_SECONDS if follow else None)


