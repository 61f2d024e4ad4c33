"""`logloom parse` shows what a run would make of a line: the component a target
resolves to (not only the alias the line used), and the text of a malformed line."""

from __future__ import annotations

import json

from tests.helpers import EXAMPLE_CONFIG, WALKTHROUGH_CONFIG


def test_parse_shows_the_resolved_component_of_an_alias(run_cli) -> None:  # type: ignore[no-untyped-def]
    # L1 names the clamp and the dispenser of station 1: each line's target_type picks one
    code, out, _ = run_cli("parse", "--config", EXAMPLE_CONFIG,
                           "--line", "2026-01-21 10:00:00 Clamp closed at L1",
                           "--line", "2026-01-21 10:00:01 Dispensing Started at L1",
                           "--line", "2026-01-21 10:00:02 Dispensing Started at L7")
    assert code == 0
    clamp, dispenser, unknown = (json.loads(line) for line in out.splitlines())
    assert (clamp["target"], clamp["component"]) == ("L1", "l1_clamp")
    assert (dispenser["target"], dispenser["component"]) == ("L1", "l1_dispenser")
    assert unknown["component"] is None and unknown["unknown_target"] == "no component id or alias 'L7'"


def test_parse_resolves_a_shared_alias_by_the_machine_that_uses_the_event(make_config, run_cli) -> None:  # type: ignore[no-untyped-def]
    def no_type(docs: dict) -> None:  # dispense_start without target_type: L1 is clamp and dispenser
        docs["log_patterns.yaml"]["patterns"][1].pop("target_type")

    code, out, _ = run_cli("parse", "--config", make_config(WALKTHROUGH_CONFIG, edit=no_type),
                           "--line", "2026-01-21 10:05:00 [INFO] Dispensing Started at L1")
    assert code == 0
    # only the dispenser's machine has a transition on PROCESS_START
    assert json.loads(out)["component"] == "l1_dispenser"


def test_parse_all_shows_the_text_of_malformed_lines(tmp_path, run_cli) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "l.log"
    log.write_text("\x00\x01 binary junk\n2026-01-21 10:00:04 Process finished volume=1.2.3ml\n" + "x" * 300 + "\n")
    code, out, _ = run_cli("parse", "--config", EXAMPLE_CONFIG, "--logs", log, "--all")
    assert code == 0
    junk, bad_field, long = (json.loads(line) for line in out.splitlines())
    assert junk == {"line": 1, "malformed": "no timestamp", "text": "\x00\x01 binary junk"}
    assert bad_field["text"] == "2026-01-21 10:00:04 Process finished volume=1.2.3ml"
    assert long["text"] == "x" * 200  # cut like an unmatched line's text


def test_parse_and_coverage_read_a_gzip_log_as_monitor_does(tmp_path, run_cli) -> None:  # type: ignore[no-untyped-def]
    """A rotated, compressed log (``line.log.1.gz``) reads as its content in every command."""
    import gzip

    from tests.helpers import ROOT

    plain = ROOT / "examples" / "walkthrough" / "input.log"
    packed = tmp_path / "input.log.1.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    code, from_plain, _ = run_cli("parse", "--config", WALKTHROUGH_CONFIG, "--logs", plain, "--all")
    assert code == 0
    code, from_gzip, _ = run_cli("parse", "--config", WALKTHROUGH_CONFIG, "--logs", packed, "--all")
    assert code == 0
    assert from_gzip == from_plain and '"event": ' in from_gzip
    code, cover_plain, _ = run_cli("coverage", "--config", WALKTHROUGH_CONFIG, "--logs", plain, "--json")
    assert code == 0
    code, cover_gzip, _ = run_cli("coverage", "--config", WALKTHROUGH_CONFIG, "--logs", packed, "--json")
    assert code == 0
    got, expected = json.loads(cover_gzip), json.loads(cover_plain)
    got.pop("sources"), expected.pop("sources")
    assert got == expected


def test_a_corrupt_gzip_log_is_the_user_s_to_fix(tmp_path, run_cli) -> None:  # type: ignore[no-untyped-def]
    import gzip

    from tests.helpers import ROOT

    packed = gzip.compress((ROOT / "examples" / "walkthrough" / "input.log").read_bytes())
    broken = tmp_path / "cut.log.gz"
    broken.write_bytes(packed[: len(packed) // 2])  # a copy cut short
    for command in ("parse", "coverage", "monitor", "record"):  # EOFError was taken for Ctrl-D: "aborted", 130
        data = () if command in ("parse", "coverage") else ("--data", tmp_path / command)
        code, _, err = run_cli(command, "--config", WALKTHROUGH_CONFIG, *data, "--logs", broken)
        assert code == 2, (command, err)
        assert f"{broken}: the compressed log is damaged (cut short or corrupt)" in err, (command, err)
        assert "internal error" not in err and "aborted" not in err
