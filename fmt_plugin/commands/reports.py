"""The sub-commands that show the indicators: `report` and `patient`."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from fmt_plugin.commands.french_argparse import Choice
from fmt_plugin.commands.invocation import (
    Subparsers,
    iso_date_argument,
    with_installation,
)
from fmt_plugin.commands.patient_choice import choose_patient, terminal_input
from fmt_plugin.errors import ConfigError, ExitStatus
from fmt_plugin.evaluation import evaluate_practice, select_rule_pack
from fmt_plugin.installation import Installation
from fmt_plugin.patient_search import search_store
from fmt_plugin.private_files import write_privately
from fmt_plugin.rules.model import Status
from fmt_plugin.timezone import today_in_paris
from fmt_plugin.views.fitted_table import terminal_width
from fmt_plugin.views.patient_sheet import render_patient_sheet
from fmt_plugin.views.practice_report import (
    RENDERERS,
    ReportOptions,
    check_options,
)
from fmt_plugin.views.report_workbook import render_xlsx

PROG = "fmt-plugin"
#: `--statut a_verifier`: the statuses as the practice writes them, or the English values.
STATUSES = Choice(
    {
        Status.FAIT: ["fait", "done"],
        Status.A_VERIFIER: ["a_verifier", "to_check"],
        Status.A_VENIR: ["a_venir", "upcoming"],
        Status.EXCLU: ["exclu", "excluded"],
    }
)
REPORT_FORMATS = Choice(
    {
        "table": ["tableau", "table"],
        "csv": ["csv"],
        "xlsx": ["xlsx", "excel"],
        "json": ["json"],
    }
)

log = logging.getLogger(__name__)


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    """Add `report` and `patient`."""
    report = commands.add_parser(
        "report", parents=[common], help="statut des indicateurs de toute la patientèle"
    )
    report.add_argument(
        "--as-of",
        type=iso_date_argument,
        metavar="DATE",
        help="date d'évaluation, AAAA-MM-JJ ou JJ/MM/AAAA (défaut : aujourd'hui)",
    )
    report.add_argument(
        "--indicator",
        "--indicateur",
        dest="indicator",
        metavar="INDICATEUR",
        help="un seul indicateur, la liste amelipro de ses patients (ex. dep_sein ; "
        "un identifiant inconnu affiche la liste)",
    )
    report.add_argument(
        "--statut",
        "--status",
        dest="statuses",
        type=STATUSES,
        action="append",
        metavar="STATUT",
        help=f"seulement les indicateurs dans ce statut, option répétable : "
        f"{STATUSES.words}",
    )
    report.add_argument(
        "--format",
        type=REPORT_FORMATS,
        default="table",
        metavar="FORMAT",
        help=f"{REPORT_FORMATS.words} (défaut : tableau ; xlsx demande --output)",
    )
    report.add_argument(
        "--output",
        "--sortie",
        dest="output",
        type=Path,
        metavar="FICHIER",
        help="écrire le rapport dans ce fichier (lisible par vous seul) plutôt qu'à l'écran",
    )
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
    """Evaluate every active patient and print (or write) the report in the chosen format."""
    as_of = args.as_of or today_in_paris()
    if args.format == "xlsx" and args.output is None:
        raise ConfigError(
            "un classeur Excel s'écrit dans un fichier, pas à l'écran",
            key="--output",
            expected="--output rapport.xlsx",
        )
    to_screen = args.output is None and args.format == "table"
    options = ReportOptions(
        indicator=args.indicator,
        sort=args.sort,
        statuses=frozenset(Status(s) for s in args.statuses) if args.statuses else None,
        width=terminal_width() if to_screen else None,
    )

    def report(installation: Installation) -> int:
        pack = select_rule_pack(installation.config, installation.pm)
        evaluation = evaluate_practice(installation.store, installation.pm, pack, as_of)
        check_options(evaluation, options)
        if args.format == "xlsx":
            data = render_xlsx(evaluation, options)
        else:
            data = RENDERERS[args.format](evaluation, options).encode("utf-8")
        if args.output is None:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
        else:
            _write_report(args.output, data)
        return ExitStatus.OK

    return with_installation(args, report)


def _write_report(path: Path, data: bytes) -> None:
    """The report file, whole or not at all, mode 0600 (it holds names and NIR)."""
    try:
        write_privately(path, data)
    except OSError as exc:
        raise ConfigError(
            f"écriture du rapport impossible ({exc.strerror or exc})",
            path=path,
            key="--output",
        ) from exc
    print(f"Rapport écrit dans {path}", file=sys.stderr)


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
