"""`keys status`, `keys rotate`, `keys retire` and `keys passphrase`: the key file's life."""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
from pathlib import Path

from fmt_plugin.commands.invocation import Subparsers, current_actor, with_installation
from fmt_plugin.config import config_path_from, load_config
from fmt_plugin.errors import ExitStatus, InstallationBusyError
from fmt_plugin.installation import Installation
from fmt_plugin.installation_lock import InstallationLock
from fmt_plugin.key_passphrase import current_passphrase, new_passphrase, unlock_keyring
from fmt_plugin.key_rotation import (
    PASSPHRASE_ACTION,
    ROTATE_ACTION,
    reencrypt_all,
    retire_older_keys,
)
from fmt_plugin.storage.keys import add_data_key, change_passphrase, is_protected
from fmt_plugin.storage.rekey import ENCRYPTED_COLUMNS, KeyUsage
from fmt_plugin.views.french import number

#: How each encrypted column is named to the practice.
COLUMN_LABELS = {
    "patients.identity": "identités des patients",
    "overrides.payload": "décisions",
    "indicator_statuses.payload": "statuts mémorisés",
    "hl7_messages.origin": "origines des messages HL7",
    "hl7_messages.raw": "messages HL7",
    "hl7_messages.events": "actes et résultats",
    "clinical_events.payload": "actes et résultats (ancien format)",
    "recall_messages.content": "rappels",
}
#: Progress lines printed by a foreground re-encryption, at most.
PROGRESS_STEPS = 10


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    """Add `keys` and its sub-commands."""
    keys = commands.add_parser("keys", help="clés de chiffrement de la base")
    keys_commands = keys.add_subparsers(title="commandes", metavar="COMMANDE")
    status = keys_commands.add_parser(
        "status",
        parents=[common],
        help="quelle clé protège combien de valeurs ; rotation en cours",
    )
    status.add_argument(
        "--json", action="store_true", help="sortie JSON (intégrateurs, supervision)"
    )
    status.set_defaults(handler=cmd_keys_status)
    rotate = keys_commands.add_parser(
        "rotate",
        parents=[common],
        help="nouvelle clé de données ; tout est ré-chiffré, puis l'ancienne retirée",
        description="Ajoute une clé de données et en fait la clé primaire, puis "
        "ré-chiffre tout ce que protègent les anciennes, par tranches (interruptible : "
        "relancer reprend), et retire les anciennes. Service en marche : la clé est "
        "ajoutée, et le service, une fois redémarré, ré-chiffre en arrière-plan ; "
        "« keys retire » retire ensuite l'ancienne.",
    )
    rotate.set_defaults(handler=cmd_keys_rotate)
    retire = keys_commands.add_parser(
        "retire",
        parents=[common],
        help="retirer les anciennes clés, une fois plus rien chiffré sous elles",
    )
    retire.set_defaults(handler=cmd_keys_retire)
    passphrase = keys_commands.add_parser(
        "passphrase",
        parents=[common],
        help="ajouter, changer ou supprimer la phrase secrète du fichier de clés",
        description="Scelle le fichier de clés sous une nouvelle phrase secrète (saisie "
        "deux fois, jamais affichée, ou lue dans une variable d'environnement), ou la "
        "supprime. Les clés ne changent pas : la base n'est pas touchée.",
    )
    choice = passphrase.add_mutually_exclusive_group()
    choice.add_argument(
        "--nouvelle-env",
        metavar="VARIABLE",
        help="lire la nouvelle phrase secrète dans cette variable d'environnement",
    )
    choice.add_argument(
        "--supprimer",
        action="store_true",
        help="supprimer la phrase secrète (le fichier n'est plus protégé que par son mode)",
    )
    passphrase.set_defaults(handler=cmd_keys_passphrase)


def cmd_keys_status(args: argparse.Namespace) -> int:
    """Show which key protects how many values, and where a rotation stands."""

    def show(installation: Installation) -> int:
        store = installation.store
        usage = store.key_usage()
        in_file = sorted(unlock_keyring(installation.config.store).data_keys)
        key_file = installation.config.store.key_file
        if args.json:
            print(json.dumps(_status_document(usage, store.primary_key_id, in_file)))
            return ExitStatus.OK
        _print_status(usage, store.primary_key_id, in_file, key_file)
        return ExitStatus.OK

    return with_installation(args, show)


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    """Add a primary key (unless a rotation is under way), re-encrypt, retire."""
    config = load_config(config_path_from(args.config, os.environ))
    keyring = unlock_keyring(config.store)
    resumed = len(keyring.data_keys) > 1
    if not resumed:
        keyring = add_data_key(
            config.store.key_file, passphrase=current_passphrase(config.store)
        )
    older = ",".join(sorted(set(keyring.data_keys) - {keyring.primary_id}))

    def rotate(installation: Installation) -> int:
        store = installation.store
        if resumed:
            print(
                f"Rotation déjà commencée (clé primaire {store.primary_key_id}) : reprise."
            )
        else:
            store.record_admin_action(
                actor=current_actor(),
                action=ROTATE_ACTION,
                detail=f"new={store.primary_key_id} older={older}",
            )
            print(f"Nouvelle clé de données {store.primary_key_id} : clé primaire.")
        try:
            lock = InstallationLock.acquire(config.store.path, purpose="keys rotate")
        except InstallationBusyError as busy:
            _print_service_running(busy)
            return ExitStatus.OK
        with lock:
            _reencrypt_here(installation)
            retirement = retire_older_keys(
                installation.config, store, actor=current_actor(), lock_held=True
            )
        if retirement.retired:
            print(f"Ancienne(s) clé(s) retirée(s) : {', '.join(retirement.retired)}.")
        print(
            "Rotation terminée. Les sauvegardes faites avant ne se restaurent plus avec"
            " ce fichier de clés : gardez-en la copie d'avant avec elles, ou refaites une"
            " sauvegarde (fmt-plugin backup)."
        )
        return ExitStatus.OK

    return with_installation(args, rotate)


def cmd_keys_retire(args: argparse.Namespace) -> int:
    """Remove the older keys once no value is under them."""

    def retire(installation: Installation) -> int:
        retirement = retire_older_keys(
            installation.config, installation.store, actor=current_actor()
        )
        if not retirement.retired:
            print(f"Une seule clé de données ({retirement.kept}) : rien à retirer.")
            return ExitStatus.OK
        print(
            f"Ancienne(s) clé(s) retirée(s) : {', '.join(retirement.retired)} ;"
            f" clé primaire : {retirement.kept}."
        )
        return ExitStatus.OK

    return with_installation(args, retire)


def cmd_keys_passphrase(args: argparse.Namespace) -> int:
    """Seal the key file under a new passphrase, or remove it; audited."""

    def reseal(installation: Installation) -> int:
        settings = installation.config.store
        was_protected = is_protected(settings.key_file)
        if args.supprimer and not was_protected:
            print("Le fichier de clés n'a pas de phrase secrète : rien à supprimer.")
            return ExitStatus.OK
        current = current_passphrase(settings)
        new = None if args.supprimer else new_passphrase(env_var=args.nouvelle_env)
        change_passphrase(settings.key_file, current=current, new=new)
        installation.store.record_admin_action(
            actor=current_actor(),
            action=PASSPHRASE_ACTION,
            detail=f"protected={'yes' if new else 'no'}"
            f" before={'yes' if was_protected else 'no'}",
        )
        _print_passphrase_done(new is not None, was_protected, args.nouvelle_env)
        return ExitStatus.OK

    return with_installation(args, reseal)


# --- output ------------------------------------------------------------------------------


def _reencrypt_here(installation: Installation) -> None:
    store = installation.store
    shown = [0]

    def progress(done: int, of: int) -> None:
        if not done:
            print(
                f"Ré-chiffrement de {number(of)} valeur(s) sous la clé"
                f" {store.primary_key_id}…"
            )
            return
        step = done * PROGRESS_STEPS // of
        if step > shown[0] or done == of:
            shown[0] = step
            print(f"  {number(done)} / {number(of)}", flush=True)

    try:
        reencrypt_all(
            store,
            slice_rows=installation.config.store.reencrypt_slice_rows,
            actor=current_actor(),
            on_progress=progress,
        )
    except KeyboardInterrupt:
        print(
            "Interrompu : tout reste lisible ; relancez « fmt-plugin keys rotate »"
            " pour reprendre.",
            file=sys.stderr,
        )
        raise


def _print_service_running(busy: InstallationBusyError) -> None:
    who = busy.holder or "un autre processus"
    print(
        f"Le service tourne ({who}) : il chiffre encore avec l'ancienne clé.\n"
        "  1. Redémarrez-le (systemctl restart fmt-plugin) : il ré-chiffrera tout en"
        " arrière-plan, sans s'interrompre.\n"
        "  2. Suivez l'avancement : fmt-plugin keys status\n"
        "  3. Une fois tout ré-chiffré : fmt-plugin keys retire"
    )


def _print_status(
    usage: KeyUsage, primary: str, in_file: list[str], key_file: Path
) -> None:
    protection = (
        "protégé par une phrase secrète"
        if is_protected(key_file)
        else "sans phrase secrète (protégé par son mode seulement)"
    )
    mode = stat.S_IMODE(os.stat(key_file).st_mode)
    print(f"Fichier de clés : {key_file} — {protection}, mode {mode:04o}.")
    print("Clés de données :")
    for key_id in sorted(set(in_file) | set(usage.key_ids)):
        print(f"  {key_id}  {_role(key_id, primary, in_file, usage)}")
        for column in ENCRYPTED_COLUMNS:
            count = usage.by_key.get(key_id, {}).get(column.label, 0)
            if count:
                print(f"      {COLUMN_LABELS[column.label]} : {number(count)}")
    print(_rotation_state(usage, primary, in_file))
    print(
        "Clé d'index aveugle et clé d'audit : ne changent jamais (voir docs/operations.md,"
        " « Clés de chiffrement »)."
    )


def _role(key_id: str, primary: str, in_file: list[str], usage: KeyUsage) -> str:
    total = number(usage.total(key_id))
    if key_id not in in_file:
        return f"inconnue (absente du fichier de clés) : {total} valeur(s) illisible(s)"
    if key_id == primary:
        return f"primaire : {total} valeur(s)"
    return f"ancienne : {total} valeur(s) à ré-chiffrer"


def _rotation_state(usage: KeyUsage, primary: str, in_file: list[str]) -> str:
    older = [key_id for key_id in in_file if key_id != primary]
    if not older:
        return "Rotation : aucune en cours."
    left = sum(usage.total(key_id) for key_id in older)
    if left:
        return (
            f"Rotation : en cours, {number(left)} valeur(s) restent sous l'ancienne clé"
            " (le service ré-chiffre en arrière-plan après son redémarrage ;"
            " service arrêté : fmt-plugin keys rotate)."
        )
    return "Rotation : ré-chiffrement terminé ; « fmt-plugin keys retire » retire l'ancienne clé."


def _status_document(
    usage: KeyUsage, primary: str, in_file: list[str]
) -> dict[str, object]:
    older = [key_id for key_id in in_file if key_id != primary]
    return {
        "primary": primary,
        "keys": {
            key_id: {
                "in_key_file": key_id in in_file,
                "values": usage.total(key_id),
                "by_column": dict(usage.by_key.get(key_id, {})),
            }
            for key_id in sorted(set(in_file) | set(usage.key_ids))
        },
        "to_reencrypt": sum(usage.total(key_id) for key_id in older),
        "rotation": (
            "none"
            if not older
            else "reencrypting"
            if any(usage.total(key_id) for key_id in older)
            else "ready_to_retire"
        ),
    }


def _print_passphrase_done(
    protected: bool, was_protected: bool, env_var: str | None
) -> None:
    if not protected:
        print(
            "Phrase secrète supprimée : le fichier de clés n'est plus protégé que par son"
            " mode 0600. Retirez « key_passphrase » de [store] dans fmt.toml."
        )
        return
    print("Phrase secrète changée." if was_protected else "Phrase secrète ajoutée.")
    where = f"la variable {env_var}" if env_var else "sa variable d'environnement"
    print(
        '  Le service la lit dans [store] key_passphrase ({"$env" = …}) : mettez à jour'
        f" {where} avant son prochain démarrage (l'ancienne ne déverrouille plus rien)."
    )
