"""The `fmt-plugin` command: the top-level parser, the sub-command modules, errors → exit status."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

from fmt_plugin import __version__
from fmt_plugin.commands import (
    audit,
    backup,
    decisions,
    french_argparse,
    hl7,
    installation,
    keys,
    recalls,
    remuneration,
    reports,
    rules,
    snapshots,
    users,
)
from fmt_plugin.config import CONFIG_ENV_VAR
from fmt_plugin.demo.command import add_demo_command
from fmt_plugin.errors import ExitStatus, FmtError

PROG = "fmt-plugin"


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit status (never raise for a user error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        # `fmt-plugin recalls` alone: the commands of `recalls`, not of the whole program.
        args.commands_of.print_help(sys.stderr)
        return ExitStatus.USAGE
    try:
        status: int = args.handler(args)
    except FmtError as exc:
        print(f"{PROG} : erreur : {exc}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - a bug: say so without dumping data unless asked
        print(
            f"{PROG} : erreur interne ({type(exc).__name__}). Relancez avec FMT_DEBUG=1 "
            "pour le détail et signalez-la.",
            file=sys.stderr,
        )
        if os.environ.get("FMT_DEBUG"):
            traceback.print_exc()
        return ExitStatus.INTERNAL
    return status


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command, speaking French."""
    french_argparse.install()
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Suivi en temps réel des indicateurs de prévention du Forfait "
        "Médecin Traitant.",
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"{PROG} {__version__}",
        help="afficher la version et quitter",
    )
    parser.add_argument(
        "--config",
        metavar="CHEMIN",
        help=f"fichier de configuration (défaut : variable {CONFIG_ENV_VAR})",
    )
    # Accept --config after the sub-command too; SUPPRESS keeps the global value otherwise.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        metavar="CHEMIN",
        default=argparse.SUPPRESS,
        help=f"fichier de configuration (défaut : variable {CONFIG_ENV_VAR})",
    )
    commands = parser.add_subparsers(title="commandes", metavar="COMMANDE")
    installation.register(commands, common)
    reports.register(commands, common)
    rules.register(commands, common)
    remuneration.register(commands, common)
    snapshots.register(commands, common)
    decisions.register(commands, common)
    hl7.register(commands, common)
    recalls.register(commands, common)
    add_demo_command(commands)
    audit.register(commands, common)
    backup.register(commands, common)
    keys.register(commands, common)
    users.register(commands, common)
    _name_command_groups(parser)
    return parser


def _name_command_groups(parser: argparse.ArgumentParser) -> None:
    """Let every parser with sub-commands say so (`commands_of`), for a group typed alone.

    A sub-parser's defaults override its parent's, so the deepest group typed wins.
    """
    parser.set_defaults(commands_of=parser)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _name_command_groups(sub)
