"""A real Dask scheduler and workers on 127.0.0.1 (ephemeral ports), started and stopped."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

DASK = str(Path(sys.executable).parent / "dask")
READY_S = 60.0


def wait_for(condition, timeout: float = READY_S, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not met within {timeout} s")
        time.sleep(0.05)


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
                                what="the scheduler's address")
        for i in range(workers):
            self.workers.append(self._spawn(
                "worker", self.address, "--host", "127.0.0.1", "--nthreads", "1", "--no-nanny",
                "--no-dashboard", "--name", f"w{i}", "--memory-limit", "0", log=f"worker{i}.log"))
        self.wait_workers(workers)
        return self

    def wait_workers(self, n: int) -> None:
        from distributed import Client

        with Client(self.address, timeout=30) as client:
            wait_for(lambda: len(client.scheduler_info()["workers"]) == n, what=f"{n} workers connected")

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
