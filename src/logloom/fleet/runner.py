"""``logloom fleet record|monitor``: jobs from the fleet file, results, the fleet summary.

Exit status: 0 every source done; 2 a source's config or logs are wrong (the others
ran; the summary names the failed ones); 1 a source hit a bug (or its worker kept
dying), after the others ran.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from logloom.fleet.spec import Fleet
from logloom.fleet.task import Job
from logloom.outputs.state_store import write_json_atomic

SUMMARY = "fleet_summary.json"
SUMMARY_VERSION = 1


def jobs(fleet: Fleet, mode: str, *, follow: bool = False, strict: bool = False) -> list[Job]:
    return [
        Job(name=s.name, mode=mode, config=str(s.config),
            logs=s.record_logs if mode == "record" else s.logs,
            data_dir=str(s.data_dir(fleet.data)), parquet_root=str(fleet.data / "parquet"),
            parquet_part_rows=fleet.parquet_part_rows, follow=follow, strict=strict,
            checkpoint_every=fleet.checkpoint_every)
        for s in fleet.sources
    ]


def run_fleet(fleet: Fleet, mode: str, *, scheduler: str | None = None, workers: int | None = None,
              follow: bool = False, strict: bool = False, pooled: bool = False,
              show: Callable[[str], None]) -> tuple[int, dict[str, Any]]:
    """Run every source; returns (exit status, the fleet summary as written)."""
    from logloom.fleet import cluster  # Dask: imported only when a fleet runs

    started = time.monotonic()
    fleet.data.mkdir(parents=True, exist_ok=True)
    with cluster.connect(scheduler, workers, len(fleet.sources)) as client:
        show(f"fleet {mode}: {len(fleet.sources)} sources on {_where(client, scheduler)}")
        outcomes = cluster.execute(client, jobs(fleet, mode, follow=follow, strict=strict), show)
        peers: dict[str, Any] = {}
        if mode == "record" and pooled:
            from logloom.fleet.peers import pool_baselines

            peers = pool_baselines(fleet, outcomes, lambda fn, *a: cluster.submit_call(client, fn, *a), show)
        elif mode == "monitor":
            from logloom.fleet.peers import compare_peers

            peers = compare_peers(fleet, outcomes)
    summary = {
        "schema_version": SUMMARY_VERSION,
        "fleet": str(fleet.path),
        "mode": mode,
        "finished": datetime.now(UTC).isoformat(),
        "wall_time_s": round(time.monotonic() - started, 3),
        "sources": [o.to_dict() for o in outcomes],
        "failed": [o.name for o in outcomes if o.status != "done"],
        **({"peers": peers} if peers else {}),
    }
    write_json_atomic(fleet.data / SUMMARY, summary)
    statuses = {o.status for o in outcomes}
    if peers.get("errors"):
        statuses.add("failed")
    return (1 if "error" in statuses else 2 if "failed" in statuses else 0), summary


def _where(client: Any, scheduler: str | None) -> str:
    workers = len(client.scheduler_info().get("workers", {}))
    return f"{scheduler or 'a local cluster'} ({workers} workers)"


def table(summary: dict[str, Any]) -> str:
    """The fleet summary as a text table, one source a line, and the totals."""
    head = ("source", "status", "files", "lines", "rows", "anomalies", "incidents", "lines/s", "wall s")
    rows = []
    for s in summary["sources"]:
        rows.append((s["name"], s["status"], str(s["files"]), f"{s.get('lines_read', 0):,}",
                     f"{s.get('rows_written', 0):,}", f"{s.get('anomalies', 0):,}", f"{s.get('incidents', 0):,}",
                     f"{s['lines_per_second'] or 0:,.0f}", f"{s['wall_time_s']:.1f}"))
    total_lines = sum(s.get("lines_read", 0) for s in summary["sources"])
    rows.append(("total", f"{len(summary['failed'])} failed", str(sum(s["files"] for s in summary["sources"])),
                 f"{total_lines:,}", f"{sum(s.get('rows_written', 0) for s in summary['sources']):,}",
                 f"{sum(s.get('anomalies', 0) for s in summary['sources']):,}",
                 f"{sum(s.get('incidents', 0) for s in summary['sources']):,}",
                 f"{total_lines / summary['wall_time_s'] if summary['wall_time_s'] else 0:,.0f}",
                 f"{summary['wall_time_s']:.1f}"))
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in [head, *rows]]
    out = "\n".join(lines)
    for s in summary["sources"]:
        if s["status"] != "done":
            out += f"\n{s['name']}: {s['error']}"
    for line in summary.get("peers", {}).get("unlike_peers", []):
        out += f"\nunlike its peers: {line['source']} {line['component_id']}.{line['metric_name']}: median " \
               f"{line['median']:g} against the peers' {line['peer_median']:g} ({line['z']:+.1f} peer sigmas)"
    return out


def summary_path(fleet: Fleet) -> Path:
    return fleet.data / SUMMARY
