"""The bound on matching time: the line-by-line path gives exactly what a block gives, and a
slow machine learns its blocks' time instead of sending every block down that path."""

from __future__ import annotations

import time
from typing import Any

import pytest

from logloom.config.load import load_config
from logloom.parse.budget import BoundedParser
from logloom.parse.log_parser import BlockParser, EventTable, ParsedBlock
from logloom.parse.source import LineReader
from tests.helpers import EXAMPLE_CONFIG


def outcomes(blocks: list[ParsedBlock], table: EventTable | None = None) -> list[tuple[int, str, Any]]:
    """What every line of consecutive ParsedBlocks became: (line, "event", (result, time)) or
    (line, "reject", reason); unmatched lines are absent. ``table``: the reader's so far."""
    table, out, base = table or EventTable(), [], 0
    for parsed in blocks:
        table.update(parsed)
        out += [(base + i, "event", (table.results[parsed.codes[k]], parsed.times[k]))
                for k, i in enumerate(parsed.index)]
        out += [(base + i, "reject", reason) for i, (reason, _) in parsed.rejects.items()]
        base += parsed.lines
    return sorted(out, key=lambda o: o[0])


@pytest.fixture(scope="module")
def block_of_a_shift(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from logloom.cli import main

    log = tmp_path_factory.mktemp("budget") / "s.log"
    assert main(["simulate", "--config", str(EXAMPLE_CONFIG), "--out", str(log), "--quiet", "--cycles", "40",
                 "--seed", "3", "--garbage", "0.03", "--sparse", "0.3"]) == 0
    with log.open("rb") as fh:
        return next(LineReader(fh, 0, 1 << 20).blocks())


@pytest.mark.parametrize("pure", ["1", ""], ids=["pure-python", "default"])
def test_line_by_line_gives_what_the_block_gives(block_of_a_shift, pure: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LOGLOOM_PURE_PYTHON", pure)
    spec = load_config(EXAMPLE_CONFIG).patterns
    whole = BlockParser(spec).parse(block_of_a_shift)
    pieces = BoundedParser(spec)._line_by_line(block_of_a_shift)
    assert sum(p.lines for p in pieces) == whole.lines
    assert outcomes(pieces) == outcomes([whole])
    assert [p.start for p in pieces[:1]] == [whole.start] and pieces[-1].end == whole.end


def test_a_slow_machine_learns_its_blocks_time(block_of_a_shift, make_config, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Whole blocks take 0.1 s of CPU here (a slow machine, made so by spinning before each),
    twice what a block may take at first: the first blocks run out with no line to blame
    and go line by line, each doubling the floor; then blocks parse whole, and the time
    they take sets their budget."""
    real = BlockParser.parse

    def slow(self: BlockParser, block, texts=None):  # type: ignore[no-untyped-def]
        if len(block.lines) > 1:  # CPU of this thread, as the bound counts it
            until = time.thread_time() + 0.1
            while time.thread_time() < until:
                pass
        return real(self, block, texts)

    monkeypatch.setattr(BlockParser, "parse", slow)
    config = make_config(EXAMPLE_CONFIG, edit=lambda docs: docs["log_patterns.yaml"].update(max_match_seconds=0.02))
    bounded = BoundedParser(load_config(config).patterns)
    runs, floors = [], []
    for _ in range(5):
        runs.append(bounded.parse(block_of_a_shift))
        floors.append(bounded.floor)
    assert floors == [0.08, 0.16, 0.16, 0.16, 0.16]  # two blocks went line by line, with no line to blame
    assert [len(run) for run in runs[2:]] == [1, 1, 1] and bounded.rate > 0
    table = EventTable()  # the reader's, across the blocks
    assert all(outcomes(run, table) == outcomes(runs[0], EventTable()) for run in runs)
