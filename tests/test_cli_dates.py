"""Every date option refuses a year outside 1900-2100 as a usage error, in French."""

from __future__ import annotations

import argparse

import pytest

from fmt_plugin.cli import build_parser
from fmt_plugin.commands.invocation import iso_date_argument

#: One date option per command module, typed as a user would (the rest of the line valid).
COMMANDS = {
    "installation": ("sync", "--as-of", "{date}"),
    "reports": ("report", "--as-of", "{date}"),
    "decisions": (
        "override",
        "Q01",
        "vaccin_grippe",
        "--kind",
        "refus",
        "--reason",
        "x",
        "--date",
        "{date}",
    ),
    "recalls": ("recalls", "run", "--as-of", "{date}"),
    "demo": ("demo", "--once", "--as-of", "{date}"),
}


@pytest.mark.parametrize("module", sorted(COMMANDS))
@pytest.mark.parametrize("typed", ["9999-01-01", "31/12/1899"])
def test_a_date_outside_the_range_is_a_french_usage_error(run_cli, module, typed):
    """Exit 2, the accepted range named, no traceback, nothing opened or created."""
    args = [arg.replace("{date}", typed) for arg in COMMANDS[module]]
    result = run_cli(*args)
    assert result.returncode == 2
    assert f"date hors limites « {typed} » : entre le 01/01/1900 et le 31/12/2100" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def date_options() -> list[str]:
    """`command --option` for every option of the tree whose metavar names a date."""
    found = []

    def walk(parser: argparse.ArgumentParser, path: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, f"{path} {name}".strip())
            elif action.metavar in ("DATE", "AAAA-MM-JJ", "JJ/MM/AAAA"):
                found.append((f"{path} {action.option_strings[0]}", action.type))

    walk(build_parser(), "")
    return found


def test_every_date_option_checks_the_range():
    """Each date option of every command parses with iso_date_argument."""
    options = date_options()
    assert len(options) >= 6
    wrong = [name for name, kind in options if kind is not iso_date_argument]
    assert wrong == []
