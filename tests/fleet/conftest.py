"""A real Dask scheduler and workers on 127.0.0.1 (ephemeral ports), started and stopped."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integrations.live import wait_for

DASK = str(Path(sys.executable).parent / "dask")
READY_S = 60.0


class DaskCluster:
    """``dask scheduler`` and ``dask worker`` processes (no nanny: a worker's pid is the
    process that runs its tasks, so killing it kills them)."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.procs: list[subprocess.Popen[bytes]] = []
        self.workers: list[subprocess.Popen[bytes]] = []
        self.address = ""

    def _spawn(self, *args: str, log: str) -> subprocess.Popen[bytes]:
        out = (self.work / log).open("wb")
        proc = subprocess.Popen([DASK, *args], stdout=out, stderr=subprocess.STDOUT, cwd=self.work)
        self.procs.append(proc)
        return proc

    def start(self, workers: int) -> DaskCluster:
        info = self.work / "scheduler.json"
        self._spawn("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                    "--scheduler-file", str(info), log="scheduler.log")
        self.address = wait_for(lambda: info.exists() and json.loads(info.read_text() or "{}").get("address"),
                                what="the scheduler's address", timeout=READY_S)
        for i in range(workers):
            self.workers.append(self._spawn(
                "worker", self.address, "--host", "127.0.0.1", "--nthreads", "1", "--no-nanny",
                "--no-dashboard", "--name", f"w{i}", "--memory-limit", "0", log=f"worker{i}.log"))
        self.wait_workers(workers)
        return self

    def wait_workers(self, n: int) -> None:
        from distributed import Client

        with Client(self.address, timeout=30) as client:
            wait_for(lambda: len(client.scheduler_info()["workers"]) == n, what=f"{n} workers connected",
                     timeout=READY_S)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    cluster = DaskCluster(tmp_path_factory.mktemp("dask"))
    try:
        yield cluster.start(workers=2)
    finally:
        cluster.stop()
