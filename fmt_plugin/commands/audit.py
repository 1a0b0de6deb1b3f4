"""The audit log's sub-commands: `audit verify` and `audit reanchor`."""

from __future__ import annotations

import argparse

from fmt_plugin.commands.invocation import (
    Subparsers,
    current_actor,
    with_installation,
)
from fmt_plugin.errors import ExitStatus
from fmt_plugin.installation import Installation


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    """Add `audit verify`."""
    audit = commands.add_parser("audit", help="journal d'audit")
    audit_commands = audit.add_subparsers(title="commandes", metavar="COMMANDE")
    verify = audit_commands.add_parser(
        "verify", parents=[common], help="vérifier la chaîne du journal"
    )
    verify.set_defaults(handler=cmd_audit_verify)
    reanchor = audit_commands.add_parser(
        "reanchor",
        parents=[common],
        help="réancrer le journal hors de la base (ancre perdue ou déplacée), audité",
    )
    reanchor.add_argument(
        "--raison",
        required=True,
        metavar="TEXTE",
        help="pourquoi l'ancre est recréée (inscrit au journal ; sans donnée patient)",
    )
    reanchor.set_defaults(handler=cmd_audit_reanchor)


def cmd_audit_verify(args: argparse.Namespace) -> int:
    """Check the audit log's HMAC chain; exit 1 at the first broken entry."""

    def verify(installation: Installation) -> int:
        report = installation.store.verify_audit()
        if report.ok:
            anchor = installation.store.audit_anchor
            where = f" ; ancre externe {anchor.path} concordante" if anchor else ""
            print(
                f"Journal d'audit intègre : {report.entries} entrées vérifiées{where}."
            )
            return ExitStatus.OK
        print(
            f"Journal d'audit ROMPU à l'entrée n° {report.first_broken} : "
            f"{report.reason}",
        )
        return ExitStatus.FAILURE

    return with_installation(args, verify)


def cmd_audit_reanchor(args: argparse.Namespace) -> int:
    """Anchor the current head anew, after checking the chain itself is sound."""

    def reanchor(installation: Installation) -> int:
        store = installation.store
        report = store.verify_audit(against_anchor=False)
        if not report.ok:
            # The chain itself is broken: a new anchor would vouch for a forgery.
            print(
                f"Journal d'audit ROMPU à l'entrée n° {report.first_broken} :"
                f" {report.reason} ; ancre non recréée."
            )
            return ExitStatus.FAILURE
        store.reanchor(actor=current_actor(), detail=f"raison={args.raison}")
        anchor = store.audit_anchor
        print(
            f"Journal réancré : {anchor.path if anchor else '-'} atteste désormais"
            f" l'entrée n° {store.verify_audit().entries}."
        )
        return ExitStatus.OK

    return with_installation(args, reanchor)
