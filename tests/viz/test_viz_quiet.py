"""The Rerun SDK's own log lines stay out of logloom's output (errors excepted), and
--viz-save refuses a folder that does not exist, as every output a user names does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from logloom.errors import InputError
from tests.helpers import ROOT, WALKTHROUGH_CONFIG

pytest.importorskip("rerun")

# A recording sent to something that is no viewer (it answers HTTP/1.1 400): the SDK
# logs the lost messages as errors. Its warnings (a viewer still connecting at shutdown,
# ...) are below the RUST_LOG level logloom sets unless the user set one.
NOT_A_VIEWER = """
import os, socket, threading
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(8)
def answer():
    while True:
        c, _ = srv.accept(); c.sendall(b"HTTP/1.1 400 Bad Request\\r\\n\\r\\n"); c.close()
threading.Thread(target=answer, daemon=True).start()
from logloom.viz.observer import import_rerun
rr = import_rerun()
print("RUST_LOG=" + os.environ["RUST_LOG"])
rr.init("t", spawn=False)
rr.connect_grpc(f"rerun+http://127.0.0.1:{srv.getsockname()[1]}/proxy")
rr.log("a", rr.Scalars(1.0))
rr.disconnect()
"""


def _run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-c", NOT_A_VIEWER], capture_output=True, text=True, timeout=120,
                          cwd=ROOT, env=env)
    assert done.returncode == 0, done.stderr
    return done


def test_the_sdk_log_is_kept_to_errors() -> None:
    done = _run({k: v for k, v in os.environ.items() if k != "RUST_LOG"})
    assert done.stdout.strip() == "RUST_LOG=error"
    assert "ERROR" in done.stderr and "WARN" not in done.stderr  # lost data is still said


def test_a_users_rust_log_wins() -> None:
    code = "import os; from logloom.viz.observer import import_rerun; import_rerun(); print(os.environ['RUST_LOG'])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={**os.environ, "RUST_LOG": "warn"})
    assert done.stdout.strip() == "warn", done.stderr


def test_viz_save_refuses_a_missing_folder(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "x.log"
    log.write_text("2026-01-21 10:05:00 [INFO] Dispensing Started at L1\n")
    target = tmp_path / "no" / "such" / "x.rrd"
    code, _, err = run_cli("monitor", "--config", WALKTHROUGH_CONFIG, "--data", tmp_path / "d", "--logs", log,
                           "--viz-save", target)
    assert code == 2 and "the folder" in err and "does not exist" in err and "Traceback" not in err
    assert not (tmp_path / "no").exists()  # nothing created


def test_every_output_a_user_names_refuses_a_missing_folder(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    from logloom.report.report import build_report

    missing = tmp_path / "nowhere"
    with pytest.raises(InputError, match="does not exist"):
        build_report(tmp_path, WALKTHROUGH_CONFIG, missing / "r.html")
    code, _, err = run_cli("simulate", "--out", missing / "s.log", "--cycles", "1")
    assert code == 2 and "does not exist" in err
    assert not missing.exists()
