"""Dask distributed: the cluster, one task per source, progress and results.

The only module of logloom that imports Dask (the ``fleet`` extra). Without
``--scheduler`` a ``LocalCluster`` of worker processes (one thread each) listens on
127.0.0.1 only; with it, the client joins that cluster, whose workers must see the
same paths (a shared filesystem) and have logloom installed.

A worker that dies while running a source is noticed by the scheduler, which runs
the task again on another worker (up to ``distributed.scheduler.allowed-failures``
deaths, default 3): it resumes from the source's checkpoint.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from logloom.errors import InputError
from logloom.fleet.task import Job, Outcome, run_source
from logloom.main import request_stop

try:
    import dask
    from distributed import Client, LocalCluster, as_completed, get_worker

    HAVE_DASK = True
except ImportError:  # the extra is not installed: every command but fleet works
    HAVE_DASK = False

INSTALL = "logloom fleet needs Dask distributed and pyarrow: pip install 'logloom[fleet]'"
PROGRESS_TOPIC = "logloom-progress"
CONNECT_TIMEOUT_S = 10


def _report(msg: dict[str, Any]) -> None:
    get_worker().log_event(PROGRESS_TOPIC, msg)


def run_job(job: Job) -> Outcome:
    """The task: ``run_source`` with its progress sent to the client through the scheduler."""
    return run_source(job, _report)


def run_call(fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn(*args)`` as a task (the pooled baselines)."""
    return fn(*args)


@contextmanager
def connect(scheduler: str | None, workers: int | None, sources: int) -> Iterator[Any]:
    """A client of the cluster at ``scheduler``, or of a local one with ``workers`` processes."""
    if not HAVE_DASK:
        raise InputError(INSTALL)
    logging.getLogger("distributed").setLevel(logging.WARNING)
    if scheduler is not None:
        if workers is not None:
            raise InputError("--workers sizes the local cluster; with --scheduler the cluster has its own workers")
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError(f"{scheduler}: cannot reach the Dask scheduler ({exc})") from None
        try:
            yield client
        finally:
            client.close()
        return
    n = workers or max(1, min(sources, _cores()))
    # the workers' statistical profiler samples every thread's stack 100 times a second,
    # for a dashboard nobody opens here: a few per cent of a source's CPU
    dask.config.set({"distributed.worker.profile.enabled": False})
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, silence_logs=logging.WARNING)
    try:
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def execute(client: Any, jobs: Sequence[Job], show: Callable[[str], None]) -> list[Outcome]:
    """Run ``jobs`` on the cluster; ``show`` gets a line per progress step and result.

    Ctrl-C (or SIGTERM) asks every worker to stop its runs cleanly (flush, checkpoint),
    then the results are collected as usual.
    """
    last: dict[str, float] = {}

    def on_progress(event: tuple[float, dict[str, Any]]) -> None:
        msg = event[1]
        now = time.monotonic()
        final = msg["done"] == 0 or (msg["total"] is not None and msg["done"] >= msg["total"])
        if not final and now - last.get(msg["source"], 0.0) < 2.0:
            return
        last[msg["source"]] = now
        if msg["total"]:
            show(f"{msg['source']}: {msg['label']}: {min(100.0, 100 * msg['done'] / msg['total']):.0f} % "
                 f"of {msg['total'] / 1e6:,.1f} MB")
        else:
            show(f"{msg['source']}: {msg['label']}: {msg['done'] / 1e6:,.1f} MB")

    client.subscribe_topic(PROGRESS_TOPIC, on_progress)
    run = uuid.uuid4().hex[:8]
    futures = {client.submit(run_job, job, key=f"logloom-{job.mode}-{job.name}-{run}", pure=False): job
               for job in jobs}
    outcomes: dict[str, Outcome] = {}
    pending = as_completed(list(futures))
    previous = signal.signal(signal.SIGTERM, _interrupt) if threading.current_thread() is threading.main_thread() \
        else None
    while True:
        try:
            for future in pending:
                job = futures[future]
                try:
                    outcome = future.result()
                except Exception as exc:  # a bug in the task, or a worker that kept dying
                    outcome = Outcome(job.name, status="error", error=f"{type(exc).__name__}: {exc}")
                outcomes[job.name] = outcome
                show(_result_line(outcome))
            break
        except KeyboardInterrupt:
            show("stopping: every source flushes, checkpoints and ends")
            client.run(request_stop)
    if previous is not None:
        signal.signal(signal.SIGTERM, previous)
    client.unsubscribe_topic(PROGRESS_TOPIC)
    return [outcomes[job.name] for job in jobs]


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def submit_call(client: Any, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` on the cluster; its result (or its exception)."""
    return client.submit(run_call, fn, *args, pure=False).result()


def _result_line(o: Outcome) -> str:
    if o.status == "done":
        lines = o.counts.get("lines_read", 0)
        return f"{o.name}: done, {lines:,} lines, {o.counts.get('rows_written', 0):,} rows in {o.wall_s:.1f} s"
    return f"{o.name}: {o.status.upper()}: {o.error}"


def echo(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
