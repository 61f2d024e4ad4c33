"""process_metrics.csv lines written column by column are those written row by row."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from logloom.logtime.timestamps import TimeFormatter
from logloom.outputs.csv_block import MetricColumns
from logloom.outputs.sinks import MetricsSink, metric_lines
from logloom.records import MetricRow, Rows, SeriesKey

NAIVE = TimeFormatter("iso", tz=None, instants=False)
YEAR_1, YEAR_10000 = -62_135_596_800_000_000, 253_402_300_800_000_000  # µs of 0001-01-01 and 10000-01-01

VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-1e10, 1e10).map(lambda x: round(x, 6)),  # what the engine writes
    st.integers(-(10**16), 10**16).map(lambda n: n / 1e6),  # whole µs as seconds
    st.integers(-(2**32) * 10**6 - 5, 2**32 * 10**6 + 5).map(lambda n: n / 1e6),  # around the limit
    st.sampled_from([0.0, -0.0, 1e-4, -1e-4, 9.9999e-5, 1e-5, 2.0**32, 2.0**32 - 1e-6, 0.1 + 0.2, 1 / 3]),
)
TIMES = st.one_of(st.integers(YEAR_1, YEAR_10000 - 1), st.integers(1_700_000_000_000_000, 1_800_000_000_000_000),
                  st.integers(1_700_000_000, 1_800_000_000).map(lambda s: s * 1_000_000))
NAMES = st.sampled_from(["l1_clamp", "c", "m\u00e4", "cycle_time", "\u00b0C", "s", "", "S:inferred", "CLOSED"])
ROWS = st.lists(st.builds(MetricRow, TIMES, NAMES, NAMES, VALUES, NAMES, NAMES), max_size=40)


def by_hand(rows: list[MetricRow]) -> bytes:
    """The lines as SPEC 5 has them, one row at a time."""
    return "".join(f"{NAIVE(ts)},{cid},{name},{value!r},{unit},{ctx}\n"
                   for ts, cid, name, value, unit, ctx in rows).encode()


@settings(max_examples=300, deadline=None)
@given(st.lists(ROWS, min_size=1, max_size=4))
def test_a_block_of_rows_is_written_as_row_by_row(blocks: list[list[MetricRow]]) -> None:
    columns = MetricColumns()  # one across blocks: the names it learnt stay right
    for rows in blocks:
        assert columns.lines(Rows.of(rows)) == by_hand(rows)
        assert "".join(metric_lines(rows, NAIVE.format_new)).encode() == by_hand(rows)


@settings(max_examples=200, deadline=None)
@given(st.lists(ROWS, min_size=1, max_size=4))
def test_rows_of_one_list_of_series_are_written_as_row_by_row(blocks: list[list[MetricRow]]) -> None:
    """Blocks whose series ids index one list, as the engine's (``Engine.series``) do: a
    series' text is learnt from the first block that holds it, then read by id."""
    series: list[SeriesKey] = []
    columns = MetricColumns()
    for block in blocks:
        rows = Rows(series)
        for ts, cid, name, value, unit, ctx in block:
            if (cid, name, unit, ctx) not in series:
                series.append((cid, name, unit, ctx))
            rows.ts.append(ts)
            rows.ids.append(series.index((cid, name, unit, ctx)))
            rows.values.append(value)
        assert columns.lines(rows) == by_hand(block)


@settings(max_examples=50, deadline=None)
@given(ROWS, st.integers(YEAR_10000, YEAR_10000 * 2) | st.integers(YEAR_1 * 2, YEAR_1 - 1))
def test_a_time_past_year_9999_or_before_year_1_leaves_the_block_to_the_rows(rows: list[MetricRow],
                                                                              far: int) -> None:
    assert MetricColumns().lines(Rows.of([*rows, MetricRow(far, "c", "m", 1.0, "s", "S")])) is None


def test_more_rows_than_a_chunk_and_the_sink_writes_the_same_bytes(tmp_path: Path) -> None:
    rows = [MetricRow(1_768_989_615_000_000 + i * 1_234_567, f"c{i % 3}", "m", i / 8, "s", "S") for i in range(9000)]
    for name, fmt in (("columns", NAIVE), ("rows", NAIVE.format_new)):
        sink = MetricsSink(tmp_path / name, fmt, 100_000)  # parts end inside a block
        sink.write_rows(rows[:5000])
        sink.write_rows(rows[5000:])
        sink.close()
    parts = {p.name: p.read_bytes() for p in (tmp_path / "columns").iterdir()}
    assert len(parts) > 3 and parts == {p.name: p.read_bytes() for p in (tmp_path / "rows").iterdir()}
