"""The sub-commands that show the indicators: `report` and `patient`."""

from __future__ import annotations

import argparse
import sys

from fmt_plugin.commands.invocation import (
    Subparsers,
    iso_date_argument,
    with_installation,
)
from fmt_plugin.errors import ConfigError, ExitStatus
from fmt_plugin.evaluation import evaluate_practice, select_rule_pack
from fmt_plugin.installation import Installation
from fmt_plugin.timezone import today_in_paris
from fmt_plugin.views.patient_sheet import render_patient_sheet
from fmt_plugin.views.practice_report import (
    FORMATS,
    RENDERERS,
    ReportOptions,
    check_options,
)

PROG = "fmt-plugin"


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
    patient.add_argument("patient_id", metavar="PATIENT_ID")
    patient.add_argument("--as-of", type=iso_date_argument, metavar="AAAA-MM-JJ")
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
    """Print one patient's "Suivi prévention"."""
    as_of = args.as_of or today_in_paris()

    def sheet(installation: Installation) -> int:
        pack = select_rule_pack(installation.config, installation.pm)
        practice = evaluate_practice(
            installation.store,
            installation.pm,
            pack,
            as_of,
            patient_ids=[args.patient_id],
        )
        if not practice.evaluations:
            raise ConfigError(
                f"patient « {args.patient_id} » inconnu de la base",
                key="PATIENT_ID",
                expected=f"un patient synchronisé ({PROG} sync)",
            )
        patient_id = practice.evaluations[0].patient_id
        text = render_patient_sheet(
            pack,
            practice.patients[patient_id],
            practice.evaluations[0],
            practice.overrides.get(patient_id, ()),
        )
        print(text, end="")
        return ExitStatus.OK

    return with_installation(args, sheet)
