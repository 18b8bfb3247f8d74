"""CLI help and messages (issue 14.3/14.4): every subcommand describes itself in one line, every option has
a help string naming its default, contradictory privacy flags are exit 2, messages speak the CLI's language."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from ehrsynth.cli._ux import to_cli_language
from ehrsynth.cli.main import build_parser, main


def _subparsers(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    out = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out[f"{prefix}{name}"] = sub
                out.update(_subparsers(sub, f"{prefix}{name} "))
    return out


COMMANDS = _subparsers(build_parser())


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_subcommand_and_option_is_documented(name: str) -> None:
    parser = COMMANDS[name]
    assert parser.description and "\n" not in parser.description.strip()[:200], name
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        label = "/".join(action.option_strings) or action.dest
        assert action.help, f"{name} {label} has no help"
        default = action.default
        if action.option_strings and default not in (None, False) and not action.required:
            assert "default" in action.help, f"{name} {label}: help does not name the default {default!r}"


def test_epochs_help_names_the_dp_default() -> None:
    helps = {a.dest: a.help for a in COMMANDS["synthesize"]._actions}
    assert "100 epochs" in helps["epochs"] and "2,000" in helps["epochs"]  # the DP and non-DP defaults
    assert helps["seed"] and helps["device"]
    sample = {a.dest: a.help for a in COMMANDS["sample"]._actions}
    assert "seed" in sample and sample["seed"] and "default" in sample["device"]
    assert {a.dest: a.help for a in COMMANDS["demo"]._actions}["seed"]


@pytest.mark.parametrize("command", ["synthesize", "fit", "demo"])
def test_epsilon_with_no_dp_is_exit_2(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [command, "in.csv", "-o", "out.csv"] if command != "demo" else [command]
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--epsilon", "1", "--no-dp"])
    assert exc.value.code == 2
    assert "not allowed with" in capsys.readouterr().err


def test_messages_speak_the_cli() -> None:
    text = "epsilon must be a positive number, found 0; use epsilon=None for no DP"
    assert to_cli_language(text) == "epsilon must be a positive number, found 0; use --no-dp for no DP"
    assert "(--no-dp)" in to_cli_language("train without DP (epsilon=None) on non-sensitive data")
    assert "--epochs" in to_cli_language("set epochs=5") and "--batch-size" in to_cli_language(
        "batch_size=64"
    )
    assert to_cli_language("set spectral_norm=False") == "set spectral_norm=False"


def test_verbose_flag_is_real() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ehrsynth.cli.main", "-v", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "-v, --verbose" in out


def test_stage_lines_unless_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    from ehrsynth.cli._ux import stage

    stage(argparse.Namespace(quiet=False), "reading in.csv")
    stage(argparse.Namespace(quiet=True), "silent")
    assert capsys.readouterr().err == "ehrsynth: reading in.csv…\n"


def test_opacus_log_format_does_not_leak() -> None:
    code = (
        "import logging; from ehrsynth.cli._ux import configure_logging; configure_logging(False); "
        "import opacus.utils.module_utils as mu; mu.logger.info('opacus chatter'); "
        "mu.logger.warning('opacus warns'); logging.getLogger('ehrsynth.x').warning('ours')"
    )
    err = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stderr
    assert "opacus chatter" not in err
    assert "WARNING opacus.utils.module_utils: opacus warns" in err and "WARNING ehrsynth.x: ours" in err
    assert not any(line[:2].isdigit() for line in err.splitlines())  # no "%m/%d/%Y ..." timestamps
