"""The taux d'atteinte over time: `snapshot` takes one now, `history` shows those kept."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime

from fmt_plugin.commands.invocation import (
    Subparsers,
    iso_date_argument,
    with_installation,
)
from fmt_plugin.config import config_path_from, load_config
from fmt_plugin.errors import ExitStatus, UsageError
from fmt_plugin.evaluation import select_rule_pack
from fmt_plugin.installation import Installation
from fmt_plugin.logs import configure_logging
from fmt_plugin.recalls.jobs import run_snapshot
from fmt_plugin.timezone import PARIS
from fmt_plugin.views.french import day
from fmt_plugin.views.rate_history import render_history_json, render_history_table
from fmt_plugin.views.rate_snapshot import render_snapshot


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    """Add `snapshot` and `history`."""
    snapshot = commands.add_parser(
        "snapshot",
        parents=[common],
        help="prendre maintenant l'instantané des taux d'atteinte (celui de chaque nuit)",
        description="Évalue la patientèle et garde les nombres de chaque indicateur "
        "(fait, à vérifier, à venir, exclu) pour le jour donné, comme le service le fait "
        "chaque nuit ; un instantané du même jour remplace le précédent.",
    )
    snapshot.add_argument(
        "--as-of",
        type=iso_date_argument,
        metavar="DATE",
        help="jour de l'instantané (défaut : aujourd'hui ; un jour passé pour combler "
        "une nuit manquée)",
    )
    snapshot.set_defaults(handler=cmd_snapshot)

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
    history.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="table (défaut) : un indicateur par ligne, un instantané par colonne ; "
        "json : les nombres de chaque jour",
    )
    history.set_defaults(handler=cmd_history)


def cmd_snapshot(args: argparse.Namespace) -> int:
    """Take the nightly snapshot now (the scheduler's own job), and print what it kept."""
    now = datetime.now(PARIS)
    if args.as_of is not None and args.as_of > now.date():
        raise UsageError(
            f"--as-of {day(args.as_of)} : un instantané ne peut pas être pris pour un "
            f"jour à venir (au plus tard le {day(now.date())})"
        )
    config_path = config_path_from(args.config, os.environ)
    configure_logging(load_config(config_path).logging)
    taken = run_snapshot(config_path, now, as_of=args.as_of)
    sys.stdout.write(render_snapshot(taken.practice, taken.status_changes))
    return ExitStatus.OK


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
