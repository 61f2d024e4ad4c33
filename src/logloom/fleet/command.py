"""``logloom fleet record|monitor FLEET.yaml``: the fleet's command line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from logloom.cli_options import FullHelpGroup
from logloom.fleet.cluster import echo
from logloom.fleet.runner import run_fleet, summary_path, table
from logloom.fleet.spec import load_fleet

_fleet_file = click.argument("fleet_file", metavar="FLEET.yaml", type=click.Path(dir_okay=False, path_type=Path))
_scheduler = click.option("--scheduler", metavar="ADDRESS",
                          help="A Dask scheduler, e.g. tcp://host:8786, whose workers see the same paths "
                               "[default: a local cluster on 127.0.0.1].")
_workers = click.option("--workers", type=click.IntRange(min=1), metavar="N",
                        help="Worker processes of the local cluster [default: one per core, at most one per source].")
_strict = click.option("--strict", is_flag=True, help="No permissive jumps: a missing transition is invalid.")
_quiet = click.option("--quiet", "-q", is_flag=True, help="No progress lines; the summary table only.")


@click.group("fleet", cls=FullHelpGroup)
def fleet_group() -> None:
    """Many sources at once on Dask distributed (needs logloom[fleet]); see docs/fleet.md."""


def _finish(status: int, summary: dict[str, Any], fleet_file: Path) -> None:
    click.echo(table(summary))
    click.echo(f"wrote {summary_path(load_fleet(fleet_file))}")
    if status:
        raise click.exceptions.Exit(status)


@fleet_group.command("record")
@_fleet_file
@_scheduler
@_workers
@click.option("--pooled", is_flag=True,
              help="Also learn one baseline per machine type from all its sources, and make it active in each.")
@_strict
@_quiet
def fleet_record(fleet_file: Path, scheduler: str | None, workers: int | None, pooled: bool, strict: bool,
                 quiet: bool) -> None:
    """Record a baseline for every source (from its record_logs, else its logs)."""
    fleet = load_fleet(fleet_file)
    status, summary = run_fleet(fleet, "record", scheduler=scheduler, workers=workers, strict=strict,
                                pooled=pooled, show=_show(quiet))
    _finish(status, summary, fleet_file)


@fleet_group.command("monitor")
@_fleet_file
@_scheduler
@_workers
@click.option("--follow", "-f", is_flag=True, help="Keep following each source's newest file (Ctrl-C stops all).")
@_strict
@_quiet
def fleet_monitor(fleet_file: Path, scheduler: str | None, workers: int | None, follow: bool, strict: bool,
                  quiet: bool) -> None:
    """Monitor every source from its checkpoint; metrics, anomalies and the Parquet dataset."""
    fleet = load_fleet(fleet_file)
    status, summary = run_fleet(fleet, "monitor", scheduler=scheduler, workers=workers, follow=follow,
                                strict=strict, show=_show(quiet))
    _finish(status, summary, fleet_file)


def _show(quiet: bool) -> Callable[[str], None]:
    return _silent if quiet else echo


def _silent(line: str) -> None:
    pass
