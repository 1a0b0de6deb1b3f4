"""The practice's decisions: `override`, `overrides` and `override-revoke`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping

from fmt_plugin.commands.french_argparse import Choice
from fmt_plugin.commands.invocation import (
    Subparsers,
    current_actor,
    iso_date_argument,
    with_installation,
)
from fmt_plugin.decision_checks import (
    check_concerned,
    check_override_dates,
    clean_reason,
)
from fmt_plugin.errors import ExitStatus, UsageError
from fmt_plugin.evaluation import select_rule_pack
from fmt_plugin.installation import Installation
from fmt_plugin.rules import Override, OverrideKind
from fmt_plugin.timezone import today_in_paris
from fmt_plugin.views import decisions as view
from fmt_plugin.views.french import day

PROG = "fmt-plugin"
#: Who takes the practice's decisions when `--author` is not given (never the OS account:
#: a shared session's login names nobody, and the decision must name its author).
AUTHOR_ENV_VAR = "FMT_USER"
KINDS = Choice(
    {
        OverrideKind.EXCLUSION.value: ["exclusion"],
        OverrideKind.REFUS.value: ["refus"],
        OverrideKind.REPORT.value: ["report"],
        OverrideKind.FAIT_AILLEURS.value: [
            "fait_ailleurs",
            "fait ailleurs",
            "fait-ailleurs",
        ],
    }
)


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    """Add `override`, `overrides` and `override-revoke`."""
    override = commands.add_parser(
        "override",
        parents=[common],
        help="enregistrer une décision du cabinet (exclusion, refus, report, fait ailleurs)",
        description="Enregistre une décision du cabinet pour un patient et un indicateur "
        "qui le concerne : exclusion médicale, refus du patient, report des rappels, ou "
        "acte fait ailleurs. La décision est chiffrée, signée de son auteur et tracée dans "
        "le journal d'audit.",
    )
    override.add_argument(
        "patient_id",
        metavar="PATIENT_ID",
        help="identifiant du patient (dossier médical)",
    )
    override.add_argument(
        "indicator", metavar="INDICATEUR", help="indicateur concerné, ex. dep_sein"
    )
    override.add_argument(
        "--kind",
        required=True,
        type=KINDS,
        metavar=KINDS.metavar,
        help="exclusion (médicale : le statut devient exclu), refus (du patient : les "
        "rappels s'arrêtent), report (des rappels jusqu'à --date), fait_ailleurs (l'acte "
        "fait ailleurs le --date compte comme fait)",
    )
    override.add_argument(
        "--reason",
        required=True,
        type=_reason,
        metavar="MOTIF",
        help="pourquoi (obligatoire ; gardé chiffré avec la décision)",
    )
    _add_author(override, "qui prend la décision")
    override.add_argument(
        "--date",
        type=iso_date_argument,
        metavar="DATE",
        help="date de l'acte (fait_ailleurs) ou fin du report (report)",
    )
    override.add_argument(
        "--expires",
        type=iso_date_argument,
        metavar="DATE",
        help="dernier jour où la décision s'applique (défaut : sans fin)",
    )
    override.add_argument(
        "--recorded-on",
        type=iso_date_argument,
        metavar="DATE",
        help="date de la décision, si elle a été prise avant sa saisie (défaut : "
        "aujourd'hui) ; le patient doit être concerné par l'indicateur à cette date",
    )
    override.set_defaults(handler=cmd_override)

    overrides = commands.add_parser(
        "overrides",
        parents=[common],
        help="lister les décisions du cabinet",
        description="Liste les décisions en vigueur du cabinet (d'un patient, ou de tous).",
    )
    overrides.add_argument(
        "patient_id",
        nargs="?",
        metavar="PATIENT_ID",
        help="seulement ce patient (défaut : tous)",
    )
    overrides.add_argument(
        "--all", action="store_true", help="y compris les décisions révoquées"
    )
    overrides.set_defaults(handler=cmd_overrides)

    revoke = commands.add_parser(
        "override-revoke",
        parents=[common],
        help="révoquer une décision du cabinet",
        description="Révoque une décision : elle ne s'applique plus, mais reste dans "
        "l'historique (fmt-plugin overrides --all) avec qui l'a révoquée et quand.",
    )
    revoke.add_argument(
        "override_id",
        type=int,
        metavar="NUMÉRO",
        help="numéro de la décision (fmt-plugin overrides)",
    )
    _add_author(revoke, "qui révoque la décision")
    revoke.set_defaults(handler=cmd_override_revoke)


def _add_author(parser: argparse.ArgumentParser, who: str) -> None:
    parser.add_argument(
        "--author",
        metavar="NOM",
        help=f"{who} (défaut : la variable {AUTHOR_ENV_VAR} ; l'un des deux est "
        "obligatoire)",
    )


def _reason(text: str) -> str:
    """An argparse `type`: the reason, its blanks collapsed; a blank one is refused."""
    try:
        return clean_reason(text)
    except UsageError as refused:
        raise argparse.ArgumentTypeError(str(refused)) from None


def decision_author(given: str | None, environ: Mapping[str, str]) -> str:
    """The name of who takes or revokes a decision: `--author`, else FMT_USER.

    Never the operating system's account: UsageError when neither names someone.
    """
    source = "--author" if given is not None else AUTHOR_ENV_VAR
    text = given if given is not None else environ.get(AUTHOR_ENV_VAR, "")
    author = " ".join(text.split())
    if author:
        return author
    if given is not None or AUTHOR_ENV_VAR in environ:
        raise UsageError(f"auteur vide ({source}) : indiquez le nom de qui décide")
    raise UsageError(
        "auteur de la décision manquant : --author NOM, ou la variable "
        f'{AUTHOR_ENV_VAR} (ex. {AUTHOR_ENV_VAR}="Dr Martin")'
    )


def cmd_override(args: argparse.Namespace) -> int:
    """Record a practice decision for one patient and one indicator that concerns them."""
    author = decision_author(args.author, os.environ)
    today = today_in_paris()
    recorded_on = args.recorded_on or today
    if recorded_on > today:
        raise UsageError(
            f"--recorded-on {day(recorded_on)} : une décision ne peut pas être datée "
            f"dans le futur (au plus tard le {day(today)})"
        )
    kind = OverrideKind(args.kind)
    check_override_dates(kind, args.date, args.expires, recorded_on)

    def record(installation: Installation) -> int:
        pack = select_rule_pack(installation.config, installation.pm)
        check_concerned(
            installation.store,
            installation.pm,
            pack,
            args.patient_id,
            args.indicator,
            recorded_on,
        )
        saved = installation.store.add_override(
            Override(
                patient_id=args.patient_id,
                indicator=args.indicator,
                kind=kind,
                author=author,
                recorded_on=recorded_on,
                reason=args.reason,
                date=args.date,
                expires=args.expires,
            ),
            actor=current_actor(),
        )
        sys.stdout.write(view.render_recorded(pack, saved))
        return ExitStatus.OK

    return with_installation(args, record)


def cmd_overrides(args: argparse.Namespace) -> int:
    """List the practice's decisions (of one patient, or all), revoked ones with `--all`."""

    def listing(installation: Installation) -> int:
        store = installation.store
        pack = select_rule_pack(installation.config, installation.pm)
        found = store.overrides(args.patient_id, include_revoked=args.all)
        revocations = store.override_revocations(args.patient_id) if args.all else {}
        sys.stdout.write(
            view.render_overrides(pack, found, revocations, include_revoked=args.all)
        )
        return ExitStatus.OK

    return with_installation(args, listing)


def cmd_override_revoke(args: argparse.Namespace) -> int:
    """Revoke a practice decision by its number (audited; the record is kept)."""
    author = decision_author(args.author, os.environ)

    def revoke(installation: Installation) -> int:
        store = installation.store
        override = store.override(args.override_id)
        if override is None:
            raise UsageError(
                f"décision n° {args.override_id} introuvable ({PROG} overrides --all "
                "les liste toutes)"
            )
        revocation = store.override_revocations(override.patient_id).get(
            args.override_id
        )
        if revocation is not None:
            raise UsageError(
                f"décision n° {args.override_id} déjà "
                f"{view.lowered(view.revoked_text(revocation))}"
            )
        store.revoke_override(args.override_id, actor=current_actor(), by=author)
        pack = select_rule_pack(installation.config, installation.pm)
        sys.stdout.write(view.render_revoked(pack, override))
        return ExitStatus.OK

    return with_installation(args, revoke)
