"""The audit log's sub-commands: `audit verify` and `audit reanchor`."""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

from fmt_plugin.commands.invocation import (
    Subparsers,
    current_actor,
    with_installation,
)
from fmt_plugin.errors import ExitStatus, UsageError
from fmt_plugin.installation import Installation
from fmt_plugin.storage.audit_anchor import SYSLOG_TAG, last_journal_head


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    """Add `audit verify` and `audit reanchor`."""
    audit = commands.add_parser("audit", help="journal d'audit")
    audit_commands = audit.add_subparsers(title="commandes", metavar="COMMANDE")
    verify = audit_commands.add_parser(
        "verify", parents=[common], help="vérifier la chaîne du journal"
    )
    witness = verify.add_mutually_exclusive_group()
    witness.add_argument(
        "--journal",
        action="store_true",
        help="comparer aussi avec la dernière tête consignée dans journald "
        "(journalctl -t fmt-plugin-audit)",
    )
    witness.add_argument(
        "--journal-file",
        type=Path,
        metavar="FICHIER",
        help="comparer aussi avec la dernière tête de ce relevé du journal système "
        "(sortie de journalctl ou fichier syslog)",
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
        store = installation.store
        journal_head = None
        if args.journal or args.journal_file is not None:
            lines = _journal_lines(args.journal_file)
            journal_head = last_journal_head(lines, store.fingerprint)
            if journal_head is None:
                print("Aucune tête de ce journal dans le journal système.")
                return ExitStatus.FAILURE
        report = store.verify_audit(journal_head=journal_head)
        if report.ok:
            anchor = store.audit_anchor
            where = f" ; ancre externe {anchor.path} concordante" if anchor else ""
            if journal_head is not None:
                where += f" ; journal système concordant (n° {journal_head.seq})"
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


def _journal_lines(path: Path | None) -> list[str]:
    """The journal's audit lines: from `path`, or from journalctl when None."""
    if path is not None:
        try:
            return path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError as exc:
            raise UsageError(
                f"{path}: relevé du journal illisible ({exc.strerror})"
            ) from exc
    journalctl = shutil.which("journalctl")
    if journalctl is None:
        raise UsageError(
            "journalctl introuvable sur cette machine : utilisez --journal-file"
        )
    result = subprocess.run(  # noqa: S603 -- fixed arguments, journalctl from PATH
        [journalctl, "-t", SYSLOG_TAG, "-o", "cat", "--no-pager"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise UsageError(
            f"journalctl a échoué (code {result.returncode}) : utilisez --journal-file"
        )
    return result.stdout.splitlines()
