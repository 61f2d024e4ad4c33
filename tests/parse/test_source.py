"""LineReader's blocks: the lines joined (``raw``) are exactly the lines, whatever the bytes."""

from __future__ import annotations

import io

from hypothesis import example, given, settings
from hypothesis import strategies as st

from logloom.parse.source import BOM, LineReader

PIECES = st.sampled_from([b"2026-01-21 10:00:00 Clamp closed at L1", b"", b"\r", b"x" * 40, BOM, b"\xff\xfe"])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.lists(PIECES, max_size=3), st.booleans()), max_size=30), st.integers(8, 200),
       st.integers(16, 100), st.booleans())
@example([([BOM], False)], 8, 16, True)  # a file of a byte order mark alone has no line
@example([([BOM, b"2026-01-21 10:00:00 Clamp closed at L1"], True)], 9, 16, False)  # a long first line after it
def test_a_blocks_raw_bytes_are_its_lines_joined(lines: list[tuple[list[bytes], bool]], first: int, max_line: int,
                                                 partial: bool) -> None:
    content = b"".join(b"".join(parts) + (b"\n" if newline else b"") for parts, newline in lines)
    reader = LineReader(io.BytesIO(content), 0, max_line)
    got = []
    for block in reader.blocks(take_partial=partial, first=first):
        if block.raw is not None:
            assert block.raw == b"\n".join(block.lines) and not block.long
        assert block.joined() == b"\n".join(block.lines)
        got += block.lines
    whole = content.removeprefix(BOM).split(b"\n")
    if not partial or not whole[-1]:
        whole.pop()  # a last line without newline waits, or there is none
    assert [line[: max_line + 1] for line in got] == [line[: max_line + 1]
                                                     for line in whole]
