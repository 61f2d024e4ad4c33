"""The ``simulate`` click command: turns arguments into one ``simulate`` call.

Registered by the CLI with ``cli.add_command(simulate_command, "simulate")``. Bad
option values and unusable configs exit 2 with one message, never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import click

from logloom.errors import InputError
from logloom.outputs.paths import require_folder
from logloom.simulator.options import DEFAULT_CYCLES, DEFAULT_START, SimError, SimOptions
from logloom.simulator.options import parse_anomalies as _parse_anomalies
from logloom.simulator.run import SimSummary, simulate

_RATIO = click.FloatRange(0.0, 1.0)


def _start(_ctx: click.Context, _param: click.Parameter, value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an ISO date-time, e.g. "
                                 f"{DEFAULT_START.isoformat()}") from exc


@click.command("simulate")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, metavar="FILE",
              help="The log to write (its folder must exist); <out>.truth.csv, .anomalies.csv and .affected.csv "
                   "go beside it.")
@click.option("--config", "config_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("config"), show_default=True, metavar="DIR",
              help="Directory of the four YAML configs.")
@click.option("--cycles", type=click.IntRange(min=1), metavar="N",
              help=f"Pallets through the whole line [default: {DEFAULT_CYCLES}].")
@click.option("--lines", type=click.IntRange(min=1), metavar="N",
              help="Stop after exactly this many lines instead.")
@click.option("--seed", type=int, default=0, show_default=True, metavar="S",
              help="Same seed, same bytes.")
@click.option("--start", default=DEFAULT_START.isoformat(), callback=_start, show_default=True, metavar="ISO",
              help="Wall-clock time the log starts at.")
@click.option("--noise", type=_RATIO, default=0.1, show_default=True, metavar="R",
              help="Share of lines that are timestamped noise matching no pattern.")
@click.option("--sparse", type=_RATIO, default=0.0, show_default=True, metavar="R",
              help="Share of finish lines written without their station, where FIFO "
                   "routing still picks the right dispenser.")
@click.option("--ambiguous-sparse", is_flag=True,
              help="Write --sparse finish lines even where FIFO routing picks wrongly.")
@click.option("--drop", type=_RATIO, default=0.0, show_default=True, metavar="R",
              help="Share of state-changing lines left out (forces jumps).")
@click.option("--garbage", type=_RATIO, default=0.0, show_default=True, metavar="R",
              help="Share of lines that are random bytes without a timestamp.")
@click.option("--disorder", type=_RATIO, default=0.0, show_default=True, metavar="R",
              help="Share of lines written after the next one (timestamps out of order).")
@click.option("--faults", type=_RATIO, default=0.0, show_default=True, metavar="R",
              help="Chance per dispensing that the dispenser faults and is reset.")
@click.option("--anomalies", "anomalies", multiple=True, metavar="SPEC[,SPEC...]",
              help="Injected anomalies: spike:COMP.METRIC@CYCLExFACTOR, "
                   "stuck:COMP.STATE@CYCLExFACTOR, drift:COMP.METRIC@CYCLE+RATE, "
                   "fault:COMP@CYCLE, random-spikes:[[COMP.]METRIC:]RATE, or the "
                   "shorthands spikes and drift. Repeatable; see docs/simulate.md.")
@click.option("--consequences", is_flag=True,
              help="Also list in <out>.anomalies.csv every row the anomalies changed "
                   "indirectly (runs the line twice: about half the speed).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
def simulate_command(out: Path, config_dir: Path, cycles: int | None, lines: int | None,
                     seed: int, start: datetime, noise: float, sparse: float,
                     ambiguous_sparse: bool, drop: float, garbage: float, disorder: float,
                     faults: float, anomalies: tuple[str, ...], consequences: bool,
                     quiet: bool) -> None:
    """Write a realistic log of the bundled example line, with its ground truth."""
    if cycles is None and lines is None:
        cycles = DEFAULT_CYCLES
    try:
        injections, random_spikes = _parse_anomalies(anomalies)
        options = SimOptions(
            cycles=cycles, lines=lines, seed=seed, start=start, noise=noise, sparse=sparse,
            ambiguous_sparse=ambiguous_sparse, drop=drop, garbage=garbage, disorder=disorder,
            faults=faults, injections=injections, random_spikes=random_spikes,
            consequences=consequences, config_dir=config_dir,
        )
        options.check()
        require_folder(out, "--out")
        with _progress(quiet, lines or cycles or 0, "lines" if lines else "pallets") as advance:
            summary = simulate(out, options, advance)
    except SimError as exc:
        raise click.BadParameter(str(exc), param_hint=exc.param) from None
    except InputError as exc:
        raise click.UsageError(str(exc)) from None
    except OSError as exc:
        raise click.UsageError(f"{exc.filename}: {exc.strerror}") from None
    if not quiet:
        click.echo(_describe(summary))


@contextmanager
def _progress(quiet: bool, total: int, unit: str) -> Iterator[Callable[[int], None] | None]:
    """A rich progress bar on a terminal's stderr; nothing otherwise."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(f"simulating ({unit})", total=total)
        yield lambda done: bar.update(task, completed=done)


def _describe(summary: SimSummary) -> str:
    return (
        f"wrote {summary.log}: {summary.lines} lines ({summary.pallets} pallets, "
        f"{summary.noise_lines} noise, {summary.garbage_lines} garbage, "
        f"{summary.dropped_lines} dropped, {summary.sparse_lines} sparse, "
        f"{summary.swapped_lines} out of order)\n"
        f"truth: {summary.truth} ({summary.truth_rows} rows); "
        f"anomalies: {summary.anomalies} ({summary.anomaly_rows} rows); "
        f"affected: {summary.affected} ({summary.affected_rows} rows)"
    )
