"""The commands that read the practice's files (init, check-config, sync, import) explain every option in French."""

from __future__ import annotations

import argparse

import pytest

from fmt_plugin.cli import build_parser

COMMANDS = ("init", "check-config", "sync", "import")


def sub_parser(name: str) -> argparse.ArgumentParser:
    """The parser of the sub-command `name`."""
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[name]
    raise AssertionError("no sub-commands")


@pytest.mark.parametrize("name", COMMANDS)
def test_every_option_and_argument_has_a_help_text(name):
    """Every option and positional of the command carries a `help=` (`--config` aside)."""
    # `--config` comes from the shared parent parser of fmt_plugin/cli.py.
    missing = [
        action.dest
        for action in sub_parser(name)._actions
        if action.dest not in ("help", "config") and not action.help
    ]
    assert missing == []


def test_sync_help_offers_allow_retire_in_french(capsys):
    """`sync --help` explains --allow-retire with the setting it overrides."""
    with pytest.raises(SystemExit):
        build_parser().parse_args(["sync", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--allow-retire" in out
    assert "max_retire_percent" in out
    assert "jamais supprimés" in out
