"""The command line's shared options and its help, one spelling everywhere.

Every command spells a directory ``DIR``, a file ``FILE``, a count ``N`` and a size
``MB``; takes only the options it uses (an option a command used to take and ignore
is accepted hidden, with a notice, so that scripts keep working); and lists its
subcommands with their whole first sentence, never cut with "...".
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def engine_build() -> str:
    """How the engine was built, for ``--version``: "compiled" (``LOGLOOM_COMPILE=1``, mypyc)
    when its module is a C extension, which Python loads in preference to the source
    beside it; else "pure Python". Looked up on disk: ``--version`` imports no stage."""
    engine = Path(__file__).parent / "engine"
    compiled = any((engine / f"engine{suffix}").exists() for suffix in EXTENSION_SUFFIXES)
    return "compiled" if compiled else "pure Python"


def options(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    """One decorator applying several click options, in the order given."""

    def apply(fn: F) -> F:
        for decorator in reversed(decorators):
            fn = decorator(fn)
        return fn

    return apply


config_dir = click.option("--config", "config_dir", type=click.Path(file_okay=False, path_type=Path),
                          default=Path("config"), show_default=True, metavar="DIR",
                          help="Directory of the four YAML configs.")
data_dir = click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path),
                        default=Path("data"), show_default=True, metavar="DIR",
                        help="Directory of the dynamic state and the outputs.")
dirs = options(config_dir, data_dir)
run_options = options(
    click.option("--strict", is_flag=True, help="No permissive jumps: a missing transition is invalid."),
    click.option("--max-part-mb", type=click.FloatRange(min=0.001), default=100.0, show_default=True, metavar="MB",
                 help="Start process_metrics_partN.csv when a file passes this size (MB = 10^6 bytes)."),
    click.option("--time-format", type=click.Choice(["iso", "epoch"]), default="iso", show_default=True,
                 help="Output timestamps as ISO 8601 or float epoch seconds."),
    click.option("--quiet", "-q", is_flag=True, help="No progress bar, no notices."),
    click.option("--parallel/--serial", default=None,
                 help="Parse in a second process while this one runs the engine "
                      "[default: for files over 8 MB on 2+ cores; never with --follow]."),
)
viz_options = options(
    click.option("--viz", is_flag=True, help="Show the run in the Rerun viewer (needs logloom[viz])."),
    click.option("--viz-save", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE.rrd",
                 help="Save a Rerun recording of the run (works headless; the folder must exist)."),
    click.option("--viz-serve", is_flag=False, flag_value="127.0.0.1", default=None, metavar="[HOST[:PORT]]",
                 help="Serve the recording on 127.0.0.1:9876, or the address given."),
)


def prestart(fn: F) -> F:
    """A command that runs the pipeline on a log: the parse worker is started before the
    configs are loaded when the run will likely want one (``parse_worker.prestart``: it
    imports its libraries meanwhile), and ended afterwards if no run took it."""

    @functools.wraps(fn)
    def run(**kwargs: Any) -> Any:
        from logloom.parse import parse_worker

        logs = kwargs.get("logs") or (kwargs.get("log"),)
        parse_worker.prestart(logs[0] or kwargs["data_dir"] / "machine_logs.txt", parallel=kwargs.get("parallel"),
                 follow=bool(kwargs.get("follow")))
        try:
            return fn(**kwargs)
        finally:
            parse_worker.discard_standby()

    return run  # type: ignore[return-value]


def ignored(flag: str, why: str) -> Callable[[F], F]:
    """An option the command no longer lists because it never used it: still accepted
    (scripts that pass it keep working), with a notice on stderr."""

    def notice(ctx: click.Context, param: click.Parameter, value: object) -> None:
        if value is not None:
            click.echo(f"warning: {ctx.command_path} ignores {flag} ({why}); it is deprecated and will be "
                       "removed, leave it out", err=True)

    return click.option(flag, type=click.Path(path_type=Path), hidden=True, expose_value=False, callback=notice)


class FullHelpGroup(click.Group):
    """A command group whose list of commands shows each one's whole first sentence."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=1_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class Commands(FullHelpGroup):
    """The command group; ``simulate`` (which imports numpy and its own tables) is
    loaded only when it is used, so the other commands start faster."""

    _lazy: ClassVar[dict[str, tuple[str, str]]] = {"simulate": ("logloom.simulator", "simulate_command"),
                                                   "fleet": ("logloom.fleet.command", "fleet_group")}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self._lazy])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self._lazy:
            module, attr = self._lazy[cmd_name]
            command: click.Command = getattr(importlib.import_module(module), attr)
            return command
        return super().get_command(ctx, cmd_name)
