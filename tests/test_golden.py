"""Golden examples: each examples/<name>/ (config + input.log + expected.csv) end to end.

``pytest --update-goldens`` rewrites expected.csv; review its diff like code.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from logloom.config.load import load_config
from tests.helpers import ROOT

EXAMPLES = sorted(p for p in (ROOT / "examples").iterdir() if (p / "input.log").exists())


@pytest.mark.parametrize("pure", ["0", "1"], ids=["fast-path", "pure-python"])
@pytest.mark.parametrize("mode", ["--serial", "--parallel"])
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_golden(example: Path, mode: str, pure: str, tmp_path: Path, run_cli, request: pytest.FixtureRequest,
                monkeypatch: pytest.MonkeyPatch) -> None:
    """The same CSV serial and with the parse worker, with Hyperscan and forced pure Python."""
    monkeypatch.setenv("LOGLOOM_PURE_PYTHON", pure)
    args = (example / "args").read_text().split() if (example / "args").exists() else []
    code, _, err = run_cli("monitor", "--config", example / "config", "--data", tmp_path,
                           "--logs", example / "input.log", "-q", mode, *args)
    assert code == 0, err
    produced = (tmp_path / "process_metrics.csv").read_text()
    expected = example / "expected.csv"
    if request.config.getoption("--update-goldens"):
        expected.write_text(produced)
    assert produced == expected.read_text()


SHIPPED = [ROOT / "config", ROOT / "bench" / "foreign" / "config",
           *sorted(p / "config" for p in (ROOT / "examples").iterdir() if (p / "config").is_dir())]


@pytest.mark.parametrize("config_dir", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shipped_config_validates(config_dir: Path, run_cli) -> None:
    load_config(config_dir)
    code, out, err = run_cli("validate", "--config", config_dir)
    assert code == 0
    assert out.startswith("OK ")
    assert "warning" not in err  # a shipped config is a model to copy: nothing in it is unused
