"""The practice's decisions: `override`, `overrides` and `override-revoke`."""

from __future__ import annotations

import argparse
from datetime import date

from fmt_plugin.commands.invocation import (
    Subparsers,
    current_actor,
    iso_date_argument,
    with_installation,
)
from fmt_plugin.errors import ConfigError, ExitStatus
from fmt_plugin.evaluation import select_rule_pack
from fmt_plugin.installation import Installation
from fmt_plugin.rules import Override, OverrideKind
from fmt_plugin.timezone import today_in_paris


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    """Add `override`, `overrides` and `override-revoke`."""
    override = commands.add_parser(
        "override",
        parents=[common],
        help="enregistrer une décision du cabinet (exclusion, refus, report, fait ailleurs)",
    )
    override.add_argument("patient_id", metavar="PATIENT_ID")
    override.add_argument("indicator", metavar="INDICATEUR")
    override.add_argument(
        "--kind", required=True, choices=[str(k) for k in OverrideKind]
    )
    override.add_argument("--reason", required=True, metavar="MOTIF")
    override.add_argument("--author", metavar="AUTEUR", help="défaut : l'utilisateur")
    override.add_argument(
        "--date",
        type=iso_date_argument,
        metavar="AAAA-MM-JJ",
        help="date de l'acte (fait_ailleurs) ou fin du report (report)",
    )
    override.add_argument("--expires", type=iso_date_argument, metavar="AAAA-MM-JJ")
    override.add_argument(
        "--recorded-on",
        type=iso_date_argument,
        metavar="AAAA-MM-JJ",
        help="date de la décision, si elle a été prise avant sa saisie (défaut : aujourd'hui)",
    )
    override.set_defaults(handler=cmd_override)

    overrides = commands.add_parser(
        "overrides", parents=[common], help="lister les décisions du cabinet"
    )
    overrides.add_argument("patient_id", nargs="?", metavar="PATIENT_ID")
    overrides.add_argument("--all", action="store_true", help="y compris les révoquées")
    overrides.set_defaults(handler=cmd_overrides)

    revoke = commands.add_parser(
        "override-revoke", parents=[common], help="révoquer une décision du cabinet"
    )
    revoke.add_argument("override_id", type=int, metavar="NUMÉRO")
    revoke.set_defaults(handler=cmd_override_revoke)


def cmd_override(args: argparse.Namespace) -> int:
    """Record a practice decision for one patient and one indicator (audited)."""
    today = today_in_paris()
    recorded_on = args.recorded_on or today
    if recorded_on > today:
        raise ConfigError(
            "une décision ne peut pas être datée dans le futur",
            key="--recorded-on",
            expected=f"au plus tard le {today.isoformat()}",
        )
    kind = OverrideKind(args.kind)
    _check_override_dates(kind, args.date, args.expires, recorded_on)

    def record(installation: Installation) -> int:
        pack = select_rule_pack(installation.config, installation.pm)
        if args.indicator not in pack.indicator_ids:
            raise ConfigError(
                f"indicateur « {args.indicator} » inconnu du jeu « {pack.id} »",
                key="INDICATEUR",
                expected=", ".join(pack.indicator_ids),
            )
        saved = installation.store.add_override(
            Override(
                patient_id=args.patient_id,
                indicator=args.indicator,
                kind=kind,
                author=args.author or current_actor().removeprefix("cli:"),
                recorded_on=recorded_on,
                reason=args.reason,
                date=args.date,
                expires=args.expires,
            ),
            actor=current_actor(),
        )
        print(
            f"Décision n° {saved.override_id} enregistrée pour le patient "
            f"{saved.patient_id} ({saved.indicator} : {saved.kind})."
        )
        return ExitStatus.OK

    return with_installation(args, record)


def _check_override_dates(
    kind: OverrideKind, when: date | None, expires: date | None, recorded_on: date
) -> None:
    if kind in (OverrideKind.FAIT_AILLEURS, OverrideKind.REPORT) and when is None:
        raise ConfigError(
            f"une décision « {kind} » demande une date",
            key="--date",
            expected="AAAA-MM-JJ (date de l'acte, ou fin du report)",
        )
    if kind is OverrideKind.FAIT_AILLEURS and when is not None and when > recorded_on:
        raise ConfigError(
            "un acte fait ailleurs ne peut pas être postérieur à sa déclaration",
            key="--date",
            expected=f"au plus tard le {recorded_on.isoformat()}",
        )
    if kind is OverrideKind.REPORT and when is not None and when <= recorded_on:
        raise ConfigError(
            "un report de rappels se termine après la décision",
            key="--date",
            expected=f"après le {recorded_on.isoformat()}",
        )
    if (
        kind not in (OverrideKind.FAIT_AILLEURS, OverrideKind.REPORT)
        and when is not None
    ):
        raise ConfigError(
            f"une décision « {kind} » ne prend pas de date",
            key="--date",
            expected="--expires pour limiter sa durée",
        )
    if expires is not None and expires < recorded_on:
        raise ConfigError(
            "une décision ne peut pas expirer avant d'être prise",
            key="--expires",
            expected=f"au plus tôt le {recorded_on.isoformat()}",
        )


def cmd_overrides(args: argparse.Namespace) -> int:
    """List the practice's decisions (of one patient, or all)."""

    def listing(installation: Installation) -> int:
        found = installation.store.overrides(args.patient_id, include_revoked=args.all)
        if not found:
            print("Aucune décision enregistrée.")
        for item in found:
            line = (
                f"n° {item.override_id}  {item.patient_id}  {item.indicator}  {item.kind}"
                f"  par {item.author} le {item.recorded_on.isoformat()}"
            )
            if item.date:
                line += f"  date {item.date.isoformat()}"
            if item.expires:
                line += f"  jusqu'au {item.expires.isoformat()}"
            print(line + f"  — {item.reason}")
        return ExitStatus.OK

    return with_installation(args, listing)


def cmd_override_revoke(args: argparse.Namespace) -> int:
    """Revoke a practice decision by its number (audited; the record is kept)."""

    def revoke(installation: Installation) -> int:
        installation.store.revoke_override(args.override_id, actor=current_actor())
        print(f"Décision n° {args.override_id} révoquée.")
        return ExitStatus.OK

    return with_installation(args, revoke)
