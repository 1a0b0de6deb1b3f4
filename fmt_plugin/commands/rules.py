"""The `rules` sub-command: the rule pack in use, its sources, decisions and dates to confirm."""

from __future__ import annotations

import argparse
import sys

from fmt_plugin.commands.invocation import (
    Subparsers,
    iso_date_argument,
    with_installation,
)
from fmt_plugin.errors import ExitStatus
from fmt_plugin.evaluation import select_rule_pack
from fmt_plugin.installation import Installation
from fmt_plugin.timezone import today_in_paris
from fmt_plugin.views.rule_pack_summary import render_rule_pack


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    """Add `rules`."""
    rules = commands.add_parser(
        "rules",
        parents=[common],
        help="le jeu de règles utilisé : sources, décisions, dates à confirmer",
    )
    rules.add_argument(
        "--as-of",
        type=iso_date_argument,
        metavar="DATE",
        help="date pour la campagne en cours, AAAA-MM-JJ ou JJ/MM/AAAA "
        "(défaut : aujourd'hui)",
    )
    rules.set_defaults(handler=cmd_rules)


def cmd_rules(args: argparse.Namespace) -> int:
    """Print the pack selected by the configuration, for the practice's territory."""
    as_of = args.as_of or today_in_paris()

    def show(installation: Installation) -> int:
        pack = select_rule_pack(installation.config, installation.pm)
        sys.stdout.write(render_rule_pack(pack, as_of))
        return ExitStatus.OK

    return with_installation(args, show)
