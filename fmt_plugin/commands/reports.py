"""The sub-commands that show the indicators: `report` and `patient`."""

from __future__ import annotations

import argparse
import logging
import sys

from fmt_plugin.commands.invocation import (
    Subparsers,
    iso_date_argument,
    with_installation,
)
from fmt_plugin.commands.patient_choice import choose_patient, terminal_input
from fmt_plugin.errors import ExitStatus
from fmt_plugin.evaluation import evaluate_practice, select_rule_pack
from fmt_plugin.installation import Installation
from fmt_plugin.patient_search import search_store
from fmt_plugin.timezone import today_in_paris
from fmt_plugin.views.patient_sheet import render_patient_sheet
from fmt_plugin.views.practice_report import (
    FORMATS,
    RENDERERS,
    ReportOptions,
    check_options,
)

PROG = "fmt-plugin"

log = logging.getLogger(__name__)


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    """Add `report` and `patient`."""
    report = commands.add_parser(
        "report", parents=[common], help="statut des indicateurs de toute la patientèle"
    )
    report.add_argument("--as-of", type=iso_date_argument, metavar="AAAA-MM-JJ")
    report.add_argument("--indicator", metavar="INDICATEUR")
    report.add_argument("--format", choices=FORMATS, default="table")
    report.add_argument(
        "--sort",
        default="nom",
        metavar="CLÉ",
        help="tri du tableau : nom, prenom, age, nir, patient_id, statut, echeance "
        "(préfixe - : décroissant, --sort=-age)",
    )
    report.set_defaults(handler=cmd_report)

    patient = commands.add_parser(
        "patient", parents=[common], help="suivi prévention d'un patient"
    )
    patient.add_argument(
        "query",
        metavar="PATIENT",
        help="identifiant, nom (et prénom), date de naissance ou NIR, par exemple "
        'Q07, dupont, "Jean Dupont", 08/08/1948, "1 48 08 09 056 206 59" ; '
        "plusieurs patients trouvés : une liste numérotée où choisir",
    )
    patient.add_argument(
        "--as-of",
        type=iso_date_argument,
        metavar="AAAA-MM-JJ",
        help="date du suivi (défaut : aujourd'hui ; JJ/MM/AAAA admis)",
    )
    patient.set_defaults(handler=cmd_patient)


def cmd_report(args: argparse.Namespace) -> int:
    """Evaluate every active patient and print the report in the chosen format."""
    as_of = args.as_of or today_in_paris()
    options = ReportOptions(indicator=args.indicator, sort=args.sort)

    def report(installation: Installation) -> int:
        pack = select_rule_pack(installation.config, installation.pm)
        evaluation = evaluate_practice(installation.store, installation.pm, pack, as_of)
        check_options(evaluation, options)
        sys.stdout.write(RENDERERS[args.format](evaluation, options))
        return ExitStatus.OK

    return with_installation(args, report)


def cmd_patient(args: argparse.Namespace) -> int:
    """Find the patient `query` names and print their "Suivi prévention".

    Several patients found: a numbered list to pick from at a terminal; otherwise the list
    and a usage error (exit 2) saying to give the id. The query is never logged.
    """
    as_of = args.as_of or today_in_paris()

    def sheet(installation: Installation) -> int:
        matches = search_store(installation.store, args.query)
        log.info("patient search by %s: %d found", matches.kind, len(matches.patients))
        patient = choose_patient(matches, ask=terminal_input())
        if patient is None:
            return ExitStatus.OK
        log.info("patient sheet shown for %s", patient.patient_id)
        pack = select_rule_pack(installation.config, installation.pm)
        practice = evaluate_practice(
            installation.store,
            installation.pm,
            pack,
            as_of,
            patient_ids=[patient.patient_id],
        )
        text = render_patient_sheet(
            pack,
            practice.patients[patient.patient_id],
            practice.evaluations[0],
            practice.overrides.get(patient.patient_id, ()),
            retired=matches.is_retired(patient),
        )
        print(text, end="")
        return ExitStatus.OK

    return with_installation(args, sheet)
