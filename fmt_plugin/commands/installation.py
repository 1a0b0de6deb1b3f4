"""The installation's sub-commands: `init`, `check-config` and `sync`."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from fmt_plugin.commands.invocation import (
    Subparsers,
    current_actor,
    iso_date_argument,
    with_installation,
)
from fmt_plugin.errors import ExitStatus
from fmt_plugin.installation import Installation, open_installation
from fmt_plugin.mllp.server import mllp_ssl_context
from fmt_plugin.preflight import check_installation
from fmt_plugin.roster import collect_roster
from fmt_plugin.scaffold import InitOptions, init_installation
from fmt_plugin.timezone import today_in_paris

PROG = "fmt-plugin"


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    """Add `init`, `check-config` and `sync`."""
    init = commands.add_parser(
        "init", help="créer une installation (configuration, clés, base vide)"
    )
    init.add_argument("directory", type=Path, metavar="DOSSIER")
    init.add_argument("--roster", type=Path, metavar="FICHIER.csv")
    init.add_argument("--acts", type=Path, metavar="FICHIER.csv")
    init.add_argument("--practice-name", default="", metavar="NOM")
    init.add_argument(
        "--practice-phone",
        default="",
        metavar="TÉLÉPHONE",
        help="téléphone du cabinet, écrit dans chaque rappel",
    )
    init.add_argument(
        "--doctor",
        default="",
        metavar="NOM",
        help='médecin qui signe les rappels (ex. "Dr Marie Martin")',
    )
    init.add_argument(
        "--passphrase-env",
        metavar="VARIABLE",
        help="protéger le fichier de clés par la phrase de passe de cette variable",
    )
    init.set_defaults(handler=cmd_init)

    check = commands.add_parser(
        "check-config", parents=[common], help="vérifier l'installation"
    )
    check.set_defaults(handler=cmd_check_config)

    sync = commands.add_parser(
        "sync", parents=[common], help="charger la patientèle depuis les adaptateurs"
    )
    sync.add_argument("--as-of", type=iso_date_argument, metavar="AAAA-MM-JJ")
    sync.set_defaults(handler=cmd_sync)


def cmd_init(args: argparse.Namespace) -> int:
    """Create an installation in DIR."""
    options = InitOptions(
        directory=args.directory,
        roster=args.roster,
        acts=args.acts,
        passphrase_env=args.passphrase_env,
        practice_name=args.practice_name,
        practice_phone=args.practice_phone,
        doctor=args.doctor,
    )
    config_path = init_installation(options, actor=current_actor())
    folder = config_path.parent
    print(f"Installation créée dans {folder}")
    print(f"  configuration : {config_path}")
    print(f"  clés          : {folder / 'fmt.key'} (mode 0600 ; à sauvegarder à part)")
    print(f"  base chiffrée : {folder / 'fmt.sqlite3'}")
    if args.roster:
        # A first sync, so that the installation is usable at once (HL7 import, report).
        with open_installation(config_path) as installation:
            sync_roster(installation, today_in_paris())
        print(
            f"Resynchroniser après chaque export : {PROG} --config {config_path} sync"
        )
    return ExitStatus.OK


def cmd_check_config(args: argparse.Namespace) -> int:
    """Validate everything a start-up would, and say what was found."""

    def check(installation: Installation) -> int:
        store = installation.store
        print(f"Configuration valide : {installation.config.path}")
        print(
            f"Base : {store.path} (schéma v{store.schema_version}, "
            f"{len(store.patient_ids())} patients actifs)"
        )
        print(f"Clés : {installation.config.store.key_file}")
        preflight = check_installation(installation)
        mllp_ssl_context(installation.config.mllp)  # what serve checks before listening
        pack = preflight.pack
        print(
            f"Jeu de règles : {pack.id} {pack.version} "
            f"({len(pack.indicators)} indicateurs) — {pack.origin}"
        )
        print("Adaptateurs :")
        for info in preflight.adapters:
            suffix = f" — {info.description}" if info.description else ""
            print(f"  {info.name} {info.version}{suffix}")
        channels = ", ".join(preflight.channels) or "aucun (aucun rappel ne partira)"
        print(f"Canaux de rappel vérifiés : {channels}")
        return ExitStatus.OK

    return with_installation(args, check)


def cmd_sync(args: argparse.Namespace) -> int:
    """Load the roster of every adapter into the store, reporting rejected records."""
    as_of = args.as_of or today_in_paris()

    def sync(installation: Installation) -> int:
        sync_roster(installation, as_of)
        return ExitStatus.OK

    return with_installation(args, sync)


def sync_roster(installation: Installation, as_of: date) -> None:
    """Load every adapter's roster at `as_of` into the store and say what changed."""
    roster = collect_roster(installation.pm, as_of)
    summary = installation.store.sync_roster(roster.patients, actor=current_actor())
    sources = ", ".join(roster.sources) or "aucun adaptateur"
    print(
        f"Patientèle synchronisée ({sources}) : {len(roster.patients)} patients — "
        f"{summary.added} ajoutés, {summary.updated} modifiés, "
        f"{summary.unchanged} inchangés, {summary.deactivated} retirés."
    )
    if roster.problems:
        print(f"{len(roster.problems)} enregistrement(s) écarté(s) :", file=sys.stderr)
        for problem in roster.problems:
            print(f"  {problem}", file=sys.stderr)
