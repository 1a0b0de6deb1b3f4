"""The sub-command `remuneration`: the FMT remuneration estimate of a year."""

from __future__ import annotations

import argparse
import logging
import sys

from fmt_plugin.commands.french_argparse import Choice
from fmt_plugin.commands.invocation import (
    Subparsers,
    iso_date_argument,
    with_installation,
)
from fmt_plugin.errors import ExitStatus
from fmt_plugin.evaluation import evaluate_practice, select_rule_pack
from fmt_plugin.installation import Installation
from fmt_plugin.remuneration.estimate import (
    PatientSituation,
    estimate,
    evaluation_day,
)
from fmt_plugin.remuneration.grid import load_default_grid
from fmt_plugin.rules.rates import fmt_potential
from fmt_plugin.timezone import today_in_paris
from fmt_plugin.views.fitted_table import terminal_width
from fmt_plugin.views.remuneration import RENDERERS, RemunerationView

FORMATS = Choice({"table": ["tableau", "table"], "csv": ["csv"], "json": ["json"]})

log = logging.getLogger(__name__)


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    """Add `remuneration`."""
    parser = commands.add_parser(
        "remuneration",
        parents=[common],
        help="estimation de la rémunération FMT de l'année : forfait socle, "
        "majorations, calendrier des versements",
    )
    parser.add_argument(
        "--year",
        "--annee",
        dest="year",
        type=int,
        metavar="AAAA",
        help="année N estimée (défaut : celle de --as-of) ; le forfait socle de N "
        "se calcule sur la situation des patients au 31/12 de N-1",
    )
    parser.add_argument(
        "--as-of",
        type=iso_date_argument,
        metavar="DATE",
        help="date de l'estimation, AAAA-MM-JJ ou JJ/MM/AAAA (défaut : aujourd'hui) ; "
        "pour une année passée, les indicateurs comptent au 31/12 de cette année",
    )
    parser.add_argument(
        "--format",
        type=FORMATS,
        default="table",
        metavar="FORMAT",
        help=f"{FORMATS.words} (défaut : tableau)",
    )
    parser.add_argument(
        "--patients",
        action="store_true",
        help="ajouter le détail par patient (identifiant, âge au 31/12 de N-1, ALD, "
        "C2S, tranche, montant)",
    )
    parser.set_defaults(handler=cmd_remuneration)


def cmd_remuneration(args: argparse.Namespace) -> int:
    """Estimate the year's remuneration from the roster and the statuses, and print it."""
    as_of = args.as_of or today_in_paris()
    year = args.year if args.year is not None else as_of.year
    grid = load_default_grid()
    evaluated_on = evaluation_day(grid, year, as_of)

    def show(installation: Installation) -> int:
        pack = select_rule_pack(installation.config, installation.pm)
        practice = evaluate_practice(
            installation.store, installation.pm, pack, evaluated_on
        )
        result = estimate(
            grid,
            (PatientSituation.of(p) for p in practice.patients.values()),
            installation.config.practice.doctor_situation,
            year,
            prevention=fmt_potential(pack, practice.rates.values()),
            evaluated_on=evaluated_on,
        )
        log.info("remuneration %d estimated for %d patients", year, len(result.lines))
        width = terminal_width() if args.format == "table" else None
        view = RemunerationView(result, as_of, patients=args.patients, width=width)
        sys.stdout.buffer.write(RENDERERS[args.format](view).encode("utf-8"))
        sys.stdout.flush()
        return ExitStatus.OK

    return with_installation(args, show)
