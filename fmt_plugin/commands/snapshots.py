"""The taux d'atteinte over time: `history` (the snapshots kept so far)."""

from __future__ import annotations

import argparse
import sys

from fmt_plugin.commands.invocation import Subparsers, with_installation
from fmt_plugin.errors import ExitStatus, UsageError
from fmt_plugin.evaluation import select_rule_pack
from fmt_plugin.installation import Installation
from fmt_plugin.views.rate_history import render_history_json, render_history_table


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    """Add `history`."""
    history = commands.add_parser(
        "history",
        parents=[common],
        help="évolution des taux d'atteinte (instantanés de chaque nuit)",
    )
    history.add_argument(
        "--days",
        type=int,
        default=7,
        metavar="N",
        help="les N derniers instantanés (défaut : 7)",
    )
    history.add_argument("--format", choices=("table", "json"), default="table")
    history.set_defaults(handler=cmd_history)


def cmd_history(args: argparse.Namespace) -> int:
    """Show the taux d'atteinte of the last nightly snapshots."""
    if args.days < 1:
        raise UsageError(f"--days {args.days} : au moins 1 jour")

    def show(installation: Installation) -> int:
        history = installation.store.snapshots.history()
        if args.format == "json":
            sys.stdout.write(render_history_json(history, args.days))
        else:
            pack = select_rule_pack(installation.config, installation.pm)
            sys.stdout.write(render_history_table(history, pack, args.days))
        return ExitStatus.OK

    return with_installation(args, show)
