"""The command line: turns arguments into a call into ``main`` and maps errors to exit codes.

Exit status (SPEC 2): 0 done; 2 the user's input or environment is wrong (one clear
message, no traceback: a bad config, a missing file, a read-only or full data
directory, edited state); 3 done, but part of a source could not be read (a rotated
file that was not found; the summary's ``gaps`` says what); 1 an internal failure
(a bug; the traceback says whether a crash snapshot was written).
"""

from __future__ import annotations

import gc
import json
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from logloom import __version__
from logloom.cli_options import (
    Commands,
    FullHelpGroup,
    config_dir,
    data_dir,
    dirs,
    engine_build,
    ignored,
    prestart,
    run_options,
    viz_options,
)
from logloom.errors import ConfigError, InputError, LogloomError
from logloom.integrations.options import integration_options
from logloom.ui import UI

if TYPE_CHECKING:
    from logloom.config.load import Config
    from logloom.main import RunOptions

# The stages are imported by the commands that run them: ``--version`` and ``--help`` load
# none of them (nor numpy, pydantic); ``summary`` (rich's tables) and ``report`` only by the
# commands that draw or write them: a quiet monitor needs neither.

EXIT_GAP = 3  # done, but part of a source could not be read


def _add_viz(options: RunOptions, config_dir: Path, ui: UI, viz: bool, save: Path | None, serve: str | None,
             initial_states: dict[str, str] | None = None) -> None:
    """Attach the Rerun observer when asked for (imported only then: it is an optional extra)."""
    if not (viz or save or serve is not None):
        return
    from logloom.viz.scene import VizScene
    from logloom.viz.viz_adapter import make_viz_observer

    scene = VizScene.from_config_dir(config_dir)
    if initial_states:
        scene = scene.with_initial_states(initial_states)
    options.observers.append(make_viz_observer(scene, spawn=viz, save=save, serve=serve, notify=ui.always))


def _load(config_dir: Path, ui: UI) -> Config:
    from logloom.config.load import load_config

    config = load_config(config_dir)
    for w in config.warnings:
        ui.warn(str(w).removeprefix("warning: "))
    return config


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="logloom", message=f"%(prog)s %(version)s (engine: {engine_build()})")
def cli() -> None:
    """logloom: machine logs -> state durations, cycle metrics, baselines and anomalies."""


@cli.command()
@config_dir
@ignored("--data", "it checks the configs only")
def validate(config_dir: Path) -> None:
    """Check the four configs; print OK and a summary, or every problem found."""
    ui = UI()
    config = _load(config_dir, ui)
    from logloom.authoring.rule_tests import tests_notice

    click.echo(f"OK {config.summary()}")
    click.echo(tests_notice(config_dir))
    if config.patterns.format == "json":
        return  # matched by keys, not classified by regex
    from logloom.parse.classify import make_classifier  # hyperscan: only for the commands that parse

    patterns = config.patterns.patterns
    classifier = make_classifier([p.regex or "" for p in patterns])
    click.echo(f"patterns: {len(patterns) - len(classifier.fallback)} of {len(patterns)} classified a block "
               f"at a time ({classifier.engine})")
    for i, why in sorted(classifier.fallback.items()):
        click.echo(f"  {patterns[i].name}: searched with re on its own, line by line ({why})")


@cli.command("test")
@config_dir
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--quiet", "-q", is_flag=True, help="Print only the failing cases and the count.")
def test_cmd(config_dir: Path, files: tuple[Path, ...], quiet: bool) -> None:
    """Run rule tests: FILEs, or CONFIG/tests/*.yaml. Exit 1 if a case fails, 2 if a file is broken."""
    from logloom.authoring.rule_report import render
    from logloom.authoring.rule_tests import resolve_paths, run_tests

    config = _load(config_dir, UI(quiet=quiet))
    paths = resolve_paths(config_dir, list(files))
    passed, failed = render(run_tests(config, paths), sys.stdout, quiet=quiet)
    total = passed + failed
    counts = f"{passed} passed" + (f", {failed} failed" if failed else "")
    click.echo(f"{total} case{'s' if total != 1 else ''} in {len(paths)} file{'s' if len(paths) != 1 else ''}: "
               f"{counts}")
    if failed:
        raise click.exceptions.Exit(1)


@cli.command()
@dirs
@click.option("--logs", "log", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path), metavar="FILE",
              help="Log file, or - for stdin [default: DATA/machine_logs.txt].")
@click.option("--line", "lines", multiple=True, metavar="TEXT",
              help="Parse this text as a log line instead (repeatable: consecutive lines).")
@click.option("--all", "show_all", is_flag=True, help="Also print unmatched and malformed lines.")
def parse(config_dir: Path, data_dir: Path, log: Path | None, lines: tuple[str, ...], show_all: bool) -> None:
    """Print the events the parser makes of a log, one JSON object a line.

    With --line, print what each given text becomes: its event, or why it is
    unmatched or malformed.
    """
    from logloom.engine.engine import Engine
    from logloom.main import parse_log, parse_texts

    ui = UI()
    if lines and log is not None:
        raise click.UsageError("give --logs or --line, not both")
    config = _load(config_dir, ui)
    engine = Engine(config)  # resolves a line's target as a run would: id, then alias of target_type

    def component(target: str, target_type: str | None, event: str) -> str | None:
        found = engine.resolve(target, target_type, event)
        return None if found is None else found.id

    if lines:
        parse_texts(config, lines, sys.stdout, component)
        return
    counts = parse_log(config, log or data_dir / "machine_logs.txt", sys.stdout, show_all=show_all,
                       resolve=component)
    ui.notify(f"{counts['lines']} lines: {counts['events']} events, {counts['unmatched']} unmatched, "
              f"{counts['malformed']} malformed")


@cli.command("coverage")
@dirs
@click.option("--logs", "logs", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path), multiple=True,
              metavar="FILE", help="Log file(s) read in order (repeatable), or - for stdin "
                                   "[default: DATA/machine_logs.txt].")
@click.option("--strict", is_flag=True, help="No permissive jumps: a missing transition is invalid.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole report as one JSON object.")
@click.option("--top", type=click.IntRange(min=1), default=20, show_default=True, metavar="N",
              help="Templates of unmatched lines to print (--json has all).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar, no notices.")
def coverage_cmd(config_dir: Path, data_dir: Path, logs: tuple[Path, ...], strict: bool, as_json: bool, top: int,
                 quiet: bool) -> None:
    """What a log exercises of the rules: hits per pattern; patterns, events, transitions and
    states never used; templates (with a regex) of the lines no pattern matches."""
    from logloom.authoring.coverage import Coverage
    from logloom.authoring.coverage_report import render
    from logloom.main import check_readable, file_size

    ui = UI(quiet=quiet)
    coverage = Coverage(_load(config_dir, ui), strict=strict)
    for log in logs or (data_dir / "machine_logs.txt",):
        check_readable(log)
    for log in logs or (data_dir / "machine_logs.txt",):
        with ui.progress(f"coverage {log.name}", file_size(log)) as bar:
            coverage.read(log, bar)
    report = coverage.report()
    if as_json:
        click.echo(json.dumps(report, indent=1))
    else:
        render(report, sys.stdout, top=top)


@cli.command("monitor")
@dirs
@click.option("--logs", "log", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path), metavar="FILE",
              help="Log file, or - for stdin (a stream: read to its end, no resume) "
                   "[default: DATA/machine_logs.txt].")
@click.option("--follow", "-f", is_flag=True, help="Keep reading as the file grows (like tail -F).")
@click.option("--checkpoint-every", type=click.FloatRange(min=0.01, max=60), default=1.0, show_default=True,
              metavar="SECONDS", help="Make the position durable at least this often.")
@click.option("--parquet", is_flag=True,
              help="Also write the rows as a Parquet dataset, DATA/parquet/source=<log name>/ (needs logloom[fleet]).")
@click.option("--parquet-part-rows", type=click.IntRange(min=1), default=1_000_000, show_default=True,
              metavar="N", help="Rows per Parquet part file (row groups of a tenth of it).")
@click.option("--from-start", is_flag=True,
              help="Archive the current outputs and checkpoint under DATA/runs/<time>/ (nothing is deleted; "
                   "the baselines stay) and process the log again from its start.")
@click.option("--rotated", "rotated", multiple=True, metavar="GLOB",
              help="Where rotated files of the log go, if not beside it as FILE.1, FILE-DATE, FILE.2.gz... "
                   "(a glob relative to the log's folder; repeatable).")
@run_options
@viz_options
@integration_options
@prestart
def monitor_cmd(config_dir: Path, data_dir: Path, log: Path | None, follow: bool, checkpoint_every: float,
                parquet: bool, parquet_part_rows: int, from_start: bool, rotated: tuple[str, ...], strict: bool,
                max_part_mb: float, time_format: str, quiet: bool, parallel: bool | None, viz: bool,
                viz_save: Path | None, viz_serve: str | None, **integrations: Any) -> None:
    """Process the log from the last checkpoint; write metrics and score them.

    A second monitor on the same log reads only what was added since; --from-start
    processes it all again, keeping the earlier outputs under DATA/runs/.
    """
    from logloom.integrations.options import make_observers
    from logloom.main import RunOptions, monitor, resumed_states
    from logloom.parse.stream import is_stream
    from logloom.report.present import describe_run, nothing_new
    from logloom.run import ParquetOptions

    ui = UI(quiet=quiet)
    config = _load(config_dir, ui)
    options = RunOptions(data_dir=data_dir, logs=[log] if log else [], strict=strict,
                         max_part_mb=max_part_mb, time_format=time_format, quiet=quiet, follow=follow,
                         checkpoint_every=checkpoint_every, parallel=parallel, from_start=from_start,
                         parquet=ParquetOptions(part_rows=parquet_part_rows) if parquet else None,
                         rotated=list(rotated))
    _add_viz(options, config_dir, ui, viz, viz_save, viz_serve, None if from_start else resumed_states(data_dir))
    options.observers += make_observers(config, data_dir, integrations, ui.notify, ui.warn, ui.always)
    summary, scorer = monitor(config, options, ui)
    for gap in summary["gaps"]:
        ui.warn(f"not read: {gap}")
    quiet_run = None if log and is_stream(log) else nothing_new(summary, data_dir, viz_save)
    ui.notify(quiet_run or describe_run(summary))
    if scorer is not None and not quiet and quiet_run is None:
        from logloom.detect.bounds import config_floors
        from logloom.report.incidents import load_incidents
        from logloom.report.summary import render_incidents, render_summary

        render_incidents(ui.err, load_incidents(data_dir))
        if scorer.baseline_id:  # without a baseline only fault states are flagged
            render_summary(ui.err, scorer.summary_rows(), scorer.uncovered_all(),
                           min_samples=scorer.config.min_samples, floors=config_floors(config))
    if summary["gaps"]:
        raise click.exceptions.Exit(EXIT_GAP)


@cli.command("record")
@dirs
@click.option("--logs", "logs", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path), multiple=True,
              metavar="FILE", help="Log file(s) of a good shift, repeatable; - for stdin "
                                   "[default: DATA/machine_logs.txt].")
@run_options
@viz_options
@prestart
def record_cmd(config_dir: Path, data_dir: Path, logs: tuple[Path, ...], strict: bool,
               max_part_mb: float, time_format: str, quiet: bool, parallel: bool | None, viz: bool,
               viz_save: Path | None, viz_serve: str | None) -> None:
    """Learn a baseline from good logs: archive it and make it the active one."""
    from logloom.main import RunOptions, record
    from logloom.report.present import describe_run

    ui = UI(quiet=quiet)
    config = _load(config_dir, ui)
    options = RunOptions(data_dir=data_dir, logs=list(logs), strict=strict, max_part_mb=max_part_mb,
                         time_format=time_format, quiet=quiet, parallel=parallel)
    _add_viz(options, config_dir, ui, viz, viz_save, viz_serve)
    baseline_id, baseline, summary = record(config, options, ui)
    ui.notify(describe_run(summary))
    if not quiet:
        from logloom.report.summary import render_baseline

        render_baseline(ui.err, baseline)
    click.echo(f"recorded {baseline_id} and made it the active baseline")
    from logloom.main import tell_running_monitor

    tell_running_monitor(data_dir, baseline_id, ui.always)


@cli.command("report")
@dirs
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="The HTML file to write [default: DATA/report.html].")
def report_cmd(config_dir: Path, data_dir: Path, out: Path | None) -> None:
    """Write one self-contained HTML report of the outputs in DATA."""
    _load(config_dir, UI())
    from logloom.report.report import build_report

    click.echo(f"wrote {build_report(data_dir, config_dir, out or data_dir / 'report.html')}")


@cli.group("baseline", cls=FullHelpGroup)
def baseline_group() -> None:
    """Manage the archive of recorded baselines."""


@baseline_group.command("list")
@data_dir
@ignored("--config", "a baseline is read from DATA alone")
def baseline_list(data_dir: Path) -> None:
    """List the archived baselines (* marks the active one)."""
    from logloom.detect.baseline import list_baselines
    from logloom.report.summary import render_baseline_list

    render_baseline_list(UI().out, list_baselines(data_dir))


@baseline_group.command("show")
@data_dir
@ignored("--config", "a baseline is read from DATA alone")
@click.argument("baseline_id")
def baseline_show(data_dir: Path, baseline_id: str) -> None:
    """Show the statistics and limits of one archived baseline."""
    from logloom.detect.baseline import show_baseline
    from logloom.report.summary import render_baseline

    render_baseline(UI().out, show_baseline(data_dir, baseline_id))


@baseline_group.command("activate")
@data_dir
@ignored("--config", "a baseline is read from DATA alone")
@click.argument("baseline_id")
def baseline_activate(data_dir: Path, baseline_id: str) -> None:
    """Make an archived baseline the active one (monitor scores against it)."""
    from logloom.detect.baseline import activate

    activate(data_dir, baseline_id)
    click.echo(f"{baseline_id} is now the active baseline")
    from logloom.main import tell_running_monitor

    tell_running_monitor(data_dir, baseline_id, UI().always)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    try:
        status = cli.main(args=argv, prog_name="logloom", standalone_mode=False)
        if isinstance(status, int):  # a command that raised click's Exit (``test``: 1 when a case fails)
            return status
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__cause__, EOFError):  # click's Ctrl-D at a prompt; logloom has none: a failure
            return _internal_error(exc.__cause__)
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return 2 if exc.exit_code != 0 else 0
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        return 2
    except (InputError, LogloomError) as exc:
        click.echo(f"error: {exc}", err=True)
        return 2
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except Exception as exc:
        return _internal_error(exc)
    return 0


def _internal_error(exc: BaseException) -> int:
    traceback.print_exception(exc)
    # a run that saved its state said where in a note (main._loop); nothing else claims a snapshot
    notes = "".join(f"; {note}" for note in getattr(exc, "__notes__", ()))
    click.echo(f"logloom: internal error (a bug){notes}", err=True)
    return 1


def run() -> None:
    """The console script: ``main`` then exit. By then every output is closed and
    flushed, so the interpreter's last garbage collection has nothing to do but walk
    what start-up built (modules, pydantic, numpy): frozen, it is skipped (20 ms)."""
    status = main()
    gc.freeze()
    sys.exit(status)


if __name__ == "__main__":
    run()
