"""Every command's help is in French: each option explained, no argparse English left."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator

import pytest

from fmt_plugin.cli import build_parser
from fmt_plugin.commands import french_argparse

#: What argparse writes in English when a string escaped the translation (any Python).
ENGLISH = (
    "usage:",
    "positional arguments",
    "optional arguments",
    "show this help",
    "show program's version",
    "subcommands",
    "(default:",
    "deprecated",
)

Command = tuple[str, argparse.ArgumentParser]


def commands(
    parser: argparse.ArgumentParser | None = None, path: str = ""
) -> Iterator[Command]:
    """Every parser of the tree, top-level first, named by its command line."""
    parser = parser or build_parser()
    yield (path or "fmt-plugin"), parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, f"{path} {name}".strip())


def sub_commands() -> Iterator[tuple[str, argparse._SubParsersAction]]:
    """Every sub-parser collection, with the command it belongs to."""
    for path, parser in commands():
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                yield path, action


ALL = sorted(path for path, _ in commands())


def test_the_tree_reaches_nested_commands():
    """The walk goes down to `recalls list`, `quarantine replay` and `audit verify`."""
    assert {"recalls list", "quarantine replay", "audit verify", "demo"} <= set(ALL)


@pytest.mark.parametrize("path", ALL)
def test_every_option_and_argument_has_a_help_text(path):
    """Each option and positional argument (but -h) of the command says what it does."""
    parser = dict(commands())[path]
    missing = [
        "/".join(action.option_strings) or action.metavar or action.dest
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction | argparse._SubParsersAction)
        and not (action.help or "").strip()
    ]
    assert missing == [], f"fmt-plugin {path}: no help for {missing}"


@pytest.mark.parametrize("path", sorted(path for path, _ in sub_commands()))
def test_every_sub_command_has_a_help_text(path):
    """Each sub-command shows a line of help in its parent's list."""
    for parent, action in sub_commands():
        if parent != path:
            continue
        helped = {choice.dest: choice.help for choice in action._choices_actions}
        missing = [name for name in action.choices if not helped.get(name)]
        assert missing == [], f"{path}: sub-commands without help {missing}"


@pytest.mark.parametrize("path", ALL)
def test_help_has_no_argparse_english(path):
    """`--help` of the command has no heading or message argparse left in English."""
    french_argparse.install()
    text = dict(commands())[path].format_help()
    leaks = [word for word in ENGLISH if word in text]
    assert leaks == [], f"fmt-plugin {path} --help: {leaks}"
    assert text.startswith("utilisation : ")


def test_sub_command_lists_have_a_french_title():
    """A list of sub-commands is headed "commandes", not argparse's "positional arguments"."""
    untitled = [path for path, action in sub_commands() if not action.container.title]
    assert untitled == []


def test_help_through_the_cli_is_french(run_cli):
    """`fmt-plugin recalls list --help`, as typed, shows the French states and options."""
    result = run_cli("recalls", "list", "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("utilisation : fmt-plugin recalls list")
    # 3.13 writes `--etat, --state ÉTAT`, earlier Pythons `--etat ÉTAT, --state ÉTAT`.
    assert re.search(r"--etat( ÉTAT)?, --state ÉTAT", result.stdout)
    assert "planifie, envoi_en_cours, envoye, echoue, abandonne, incertain" in (
        " ".join(result.stdout.split())
    )
    assert "--config CHEMIN" in result.stdout
    assert re.search(r"--config CHEMIN\s+fichier de configuration", result.stdout)


def test_a_command_group_alone_shows_its_own_commands(run_cli):
    """`fmt-plugin recalls` lists plan, run, list and retry, not every command."""
    result = run_cli("recalls")
    assert result.returncode == 2
    assert result.stderr.startswith("utilisation : fmt-plugin recalls")
    assert "retry" in result.stderr
    assert "check-config" not in result.stderr


def test_an_unknown_command_is_refused_in_french(run_cli):
    """A typo in the command name is a French usage error, exit 2."""
    result = run_cli("recals")
    assert result.returncode == 2
    assert "fmt-plugin : erreur : argument COMMANDE : choix invalide" in result.stderr
    assert "invalid choice" not in result.stderr


def test_a_french_state_filters_the_outbox_and_english_still_works(run_cli):
    """`--etat envoyé` and `--state sent` are accepted, `--etat parti` is refused."""
    for args in (("--etat", "envoyé"), ("--state", "sent"), ("--etat", "ENVOYE")):
        result = run_cli("recalls", "list", *args)
        # Past the parser: the configuration is what is missing now.
        assert "aucune configuration indiquée" in result.stderr, args
    refused = run_cli("recalls", "list", "--etat", "parti")
    assert refused.returncode == 2
    assert "choix invalide « parti »" in refused.stderr
    assert "envoi_en_cours" in refused.stderr


def test_plan_accepts_texte_and_text(run_cli):
    """`recalls plan --format texte` and the former `--format text` are both accepted."""
    for word in ("texte", "text", "json"):
        result = run_cli("recalls", "plan", "--format", word)
        assert "aucune configuration indiquée" in result.stderr, word
    assert "choix invalide" in run_cli("recalls", "plan", "--format", "csv").stderr


@pytest.mark.parametrize(
    "english",
    [
        "invalid choice: %(value)r (choose from %(choices)s)",
        "invalid choice: %(value)r, maybe you meant %(closest)r? (choose from %(choices)s)",
        "%(prog)s: warning: %(message)s\n",
        "subcommands",
        " (default: %(default)s)",
    ],
)
def test_messages_of_later_pythons_are_translated(english):
    """The wording of Python 3.12 to 3.14 has its French too."""
    assert french_argparse.translate(english) != english


@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ("envoi en cours", "sending"),
        ("Envoi-en-cours", "sending"),
        ("échoué", "failed"),
    ],
)
def test_a_state_can_be_typed_with_spaces_hyphens_or_accents(typed, value):
    """`--etat "envoi en cours"` names the same state as envoi_en_cours."""
    from fmt_plugin.commands.recalls import STATES

    assert STATES(typed) == value
