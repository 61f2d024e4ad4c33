"""--help is consistent: full descriptions, one spelling of each metavar, and only the
options a command uses (an ignored option still works, with a deprecation notice)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import click

from logloom.cli import cli
from tests.helpers import EXAMPLE_CONFIG

RunCli = Callable[..., tuple[int, str, str]]
CLICK_DEFAULT_METAVARS = ("PATH", "DIRECTORY", "INTEGER", "FLOAT")  # click's, where ours say DIR, FILE, N, R


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))


def test_every_help_is_whole_and_spelt_alike(run_cli: RunCli) -> None:
    seen = 0
    for path, _ in [((), cli), *_commands(cli)]:
        code, out, err = run_cli(*path, "--help")
        assert code == 0, (path, err)
        seen += 1
        commands = out.split("Commands:\n", 1)[1] if "Commands:\n" in out else ""
        assert not re.search(r"\.\.\.$", commands, re.MULTILINE), (path, commands)  # no description cut
        options = out.split("Options:\n", 1)[1].split("Commands:\n")[0]
        for word in CLICK_DEFAULT_METAVARS:
            assert not re.search(rf"--[\w-]+ {word}\b", options), (path, word, options)
        for flag in ("--config", "--data"):
            if f"{flag} " in options:
                assert f"{flag} DIR " in options, (path, flag)
    assert seen >= 15  # every command and subcommand


def test_a_command_lists_only_the_options_it_uses(run_cli: RunCli) -> None:
    assert "--data" not in run_cli("validate", "--help")[1]
    for sub in ("list", "show", "activate"):
        assert "--config" not in run_cli("baseline", sub, "--help")[1], sub


def test_an_option_a_command_ignored_still_works_with_a_notice(run_cli: RunCli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_cli("validate", "--config", EXAMPLE_CONFIG, "--data", tmp_path)
    assert code == 0 and out.startswith("OK")
    assert "logloom validate ignores --data" in err and "deprecated" in err
    code, _, err = run_cli("baseline", "list", "--config", EXAMPLE_CONFIG, "--data", tmp_path)
    assert code == 0 and "ignores --config" in err
    code, _, err = run_cli("validate", "--config", EXAMPLE_CONFIG)
    assert "deprecated" not in err  # no notice for what was not given


def test_an_end_of_file_inside_a_command_is_a_bug_not_a_ctrl_d(run_cli: RunCli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """click turns any EOFError into Abort ("aborted", 130, as for Ctrl-D at a prompt);
    logloom has no prompt, so one raised by its code is reported as the failure it is."""
    import logloom.main

    def cut_short(*args: object, **kwargs: object) -> None:
        raise EOFError("Compressed file ended before the end-of-stream marker was reached")

    monkeypatch.setattr(logloom.main, "parse_log", cut_short)
    code, _, err = run_cli("parse", "--config", EXAMPLE_CONFIG, "--logs", EXAMPLE_CONFIG / "machine_graph.yaml")
    assert code == 1
    assert "EOFError: Compressed file ended" in err and "internal error (a bug)" in err and "aborted" not in err
