"""`backup` and `restore`: the store copied while it runs, and put back under the installation lock."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime
from pathlib import Path

from fmt_plugin.commands.invocation import Subparsers, current_actor, with_installation
from fmt_plugin.config import config_path_from, load_config
from fmt_plugin.errors import ExitStatus, StoreError, UsageError
from fmt_plugin.installation import Installation, open_installation
from fmt_plugin.installation_lock import InstallationLock
from fmt_plugin.key_passphrase import unlock_keyring
from fmt_plugin.storage.backup import (
    BackupSummary,
    audit_seq_of,
    backup_store,
    inspect_backup,
    put_in_place,
)
from fmt_plugin.views.french import number

BACKUP_ACTION = "store.backup"
CONFIRMATION = "oui"
#: How each counted table is named to the practice.
TABLE_LABELS = {
    "patients": "patients",
    "overrides": "décisions",
    "hl7_messages": "messages HL7",
    "clinical_events": "actes et résultats",
    "recall_items": "rappels",
    "indicator_statuses": "statuts mémorisés",
    "user_accounts": "comptes",
    "audit_log": "entrées du journal d'audit",
}


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    """Add `backup` and `restore`."""
    backup = commands.add_parser(
        "backup",
        parents=[common],
        help="sauvegarder la base (à chaud, vérifiée ; jamais la clé)",
        description="Copie cohérente de la base, même service en marche, vérifiée après "
        "écriture. La sauvegarde ne contient jamais la clé : gardez-en une copie à part.",
    )
    backup.add_argument(
        "destination",
        type=Path,
        metavar="DESTINATION",
        help="fichier à créer (jamais écrasé), ou dossier où créer "
        "fmt-AAAA-MM-JJ-HHMMSS.sqlite3",
    )
    backup.set_defaults(handler=cmd_backup)
    restore = commands.add_parser(
        "restore",
        parents=[common],
        help="remettre une sauvegarde en place (service arrêté)",
        description="Remplace la base par une sauvegarde faite pour ce fichier de clés, "
        "après l'avoir vérifiée. L'ancienne base est gardée à côté, renommée. Tout ce qui "
        "a été enregistré depuis la sauvegarde est perdu.",
    )
    restore.add_argument(
        "source", type=Path, metavar="SAUVEGARDE", help="le fichier de sauvegarde"
    )
    restore.add_argument(
        "--oui",
        action="store_true",
        help="ne pas demander de confirmation (scripts)",
    )
    restore.set_defaults(handler=cmd_restore)


def cmd_backup(args: argparse.Namespace) -> int:
    """Write a checked backup, then audit it in the live store."""

    def run(installation: Installation) -> int:
        store = installation.config.store
        keyring = unlock_keyring(store)
        summary = backup_store(store.path, keyring, args.destination)
        installation.store.record_admin_action(
            actor=current_actor(),
            action=BACKUP_ACTION,
            detail=f"file={summary.path.name} seq={summary.audit_seq}",
        )
        print(
            f"Sauvegarde écrite et vérifiée : {summary.path}"
            f" ({_size(summary.size)}, mode 0600)."
        )
        print(f"  {_counts(summary)}.")
        print(
            "  La clé n'y est pas : sans sa copie gardée à part, cette sauvegarde est"
            " illisible."
        )
        return ExitStatus.OK

    return with_installation(args, run)


def cmd_restore(args: argparse.Namespace) -> int:
    """Check the backup, take the lock, confirm, put it in place, audit and verify."""
    config_path = config_path_from(args.config, os.environ)
    config = load_config(config_path)
    keyring = unlock_keyring(config.store)
    summary = inspect_backup(args.source, keyring)
    with InstallationLock.acquire(config.store.path, purpose="restore"):
        current = audit_seq_of(config.store.path)
        _announce(summary, config.store.path, current)
        if not args.oui and not _confirmed():
            print("Restauration abandonnée : rien n'a changé.")
            return ExitStatus.FAILURE
        suffix = f".avant-restauration-{datetime.now().astimezone():%Y%m%d-%H%M%S}"
        aside = put_in_place(
            args.source, config.store.path, keyring, aside_suffix=suffix
        )
        with open_installation(config_path) as installation:
            installation.store.record_restore(
                actor=current_actor(),
                detail=f"file={args.source.name} seq={summary.audit_seq}"
                f" replaced_seq={current if current is not None else '-'}",
            )
            report = installation.store.verify_audit()
    if not report.ok:
        raise StoreError(
            f"{config.store.path}: journal d'audit rompu après la restauration"
            f" (entrée n° {report.first_broken} : {report.reason})"
        )
    print(f"Base restaurée depuis {args.source}.")
    if aside is not None:
        print(f"  L'ancienne base est gardée : {aside}")
    print(f"  {_counts(summary)}.")
    print(
        f"  Journal d'audit intègre : {report.entries} entrées, restauration incluse."
    )
    return ExitStatus.OK


def _announce(summary: BackupSummary, store_path: Path, current: int | None) -> None:
    made = f" du {summary.created_at[:10]}" if summary.created_at else ""
    print(f"Sauvegarde vérifiée{made} : {_counts(summary)}.")
    if current is None:
        print(f"Aucune base lisible à {store_path} : la sauvegarde y sera mise.")
        return
    lost = max(0, current - summary.audit_seq)
    print(
        f"La base actuelle ({number(current)} entrées au journal) sera remplacée : ce qui"
        f" a été enregistré depuis la sauvegarde sera perdu ({number(lost)} entrée(s) du"
        " journal au moins). L'ancienne base est gardée à côté, renommée."
    )


def _confirmed() -> bool:
    if not sys.stdin.isatty():
        raise UsageError(
            "restauration sans terminal : ajoutez --oui pour confirmer"
            " (ce qui a été enregistré depuis la sauvegarde sera perdu)"
        )
    answer = input(f"Tapez « {CONFIRMATION} » pour restaurer : ")
    return answer.strip().lower() == CONFIRMATION


def _counts(summary: BackupSummary) -> str:
    return ", ".join(
        f"{TABLE_LABELS.get(table, table)} {number(count)}"
        for table, count in summary.counts.items()
    )


def _size(size: int) -> str:
    if size >= 1 << 20:
        return f"{size / (1 << 20):.1f} Mo".replace(".", ",")
    return f"{max(1, size // 1024)} ko"
