"""The audit log's sub-commands: `audit verify`."""

from __future__ import annotations

import argparse

from fmt_plugin.commands.invocation import Subparsers, with_installation
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


def cmd_audit_verify(args: argparse.Namespace) -> int:
    """Check the audit log's HMAC chain; exit 1 at the first broken entry."""

    def verify(installation: Installation) -> int:
        report = installation.store.verify_audit()
        if report.ok:
            print(f"Journal d'audit intègre : {report.entries} entrées vérifiées.")
            return ExitStatus.OK
        print(
            f"Journal d'audit ROMPU à l'entrée n° {report.first_broken} : "
            f"{report.reason}",
        )
        return ExitStatus.FAILURE

    return with_installation(args, verify)
