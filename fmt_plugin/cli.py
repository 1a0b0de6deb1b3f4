"""The `fmt-plugin` command: argument parsing, one function per sub-command, errors → exit status."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fmt_plugin import __version__
from fmt_plugin.config import CONFIG_ENV_VAR, config_path_from
from fmt_plugin.errors import ExitStatus, FmtError
from fmt_plugin.hooks.host import adapter_infos
from fmt_plugin.installation import Installation, open_installation
from fmt_plugin.logs import configure_logging
from fmt_plugin.roster import collect_roster
from fmt_plugin.scaffold import InitOptions, init_installation

PARIS = ZoneInfo("Europe/Paris")
PROG = "fmt-plugin"


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit status (never raise for a user error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help(sys.stderr)
        return ExitStatus.USAGE
    try:
        status: int = args.handler(args)
    except FmtError as exc:
        print(f"{PROG}: erreur : {exc}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - a bug: say so without dumping data unless asked
        print(
            f"{PROG}: erreur interne ({type(exc).__name__}). Relancez avec FMT_DEBUG=1 "
            "pour le détail et signalez-la.",
            file=sys.stderr,
        )
        if os.environ.get("FMT_DEBUG"):
            traceback.print_exc()
        return ExitStatus.INTERNAL
    return status


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Suivi en temps réel des indicateurs de prévention du Forfait "
        "Médecin Traitant.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument(
        "--config",
        metavar="CHEMIN",
        help=f"fichier de configuration (défaut : variable {CONFIG_ENV_VAR})",
    )
    # Accept --config after the sub-command too; SUPPRESS keeps the global value otherwise.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="CHEMIN", default=argparse.SUPPRESS)
    commands = parser.add_subparsers(title="commandes", metavar="COMMANDE")

    init = commands.add_parser(
        "init", help="créer une installation (configuration, clés, base vide)"
    )
    init.add_argument("directory", type=Path, metavar="DOSSIER")
    init.add_argument("--roster", type=Path, metavar="FICHIER.csv")
    init.add_argument("--acts", type=Path, metavar="FICHIER.csv")
    init.add_argument("--practice-name", default="", metavar="NOM")
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
    sync.add_argument("--as-of", type=_iso_date, metavar="AAAA-MM-JJ")
    sync.set_defaults(handler=cmd_sync)

    audit = commands.add_parser("audit", help="journal d'audit")
    audit_commands = audit.add_subparsers(title="commandes", metavar="COMMANDE")
    verify = audit_commands.add_parser(
        "verify", parents=[common], help="vérifier la chaîne du journal"
    )
    verify.set_defaults(handler=cmd_audit_verify)
    return parser


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"date invalide {text!r}, attendu AAAA-MM-JJ"
        ) from None


def today_in_paris() -> date:
    """The calendar date in Europe/Paris, the default `as_of` of every command."""
    return datetime.now(PARIS).date()


def _actor() -> str:
    """Who runs the command, for the audit log."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry (containers): still audit the action
        return "cli"


def _with_installation(
    args: argparse.Namespace, action: Callable[[Installation], int]
) -> int:
    config_path = config_path_from(args.config, os.environ)
    with open_installation(config_path) as installation:
        configure_logging(installation.config.logging)
        return action(installation)


def cmd_init(args: argparse.Namespace) -> int:
    """Create an installation in DIR."""
    options = InitOptions(
        directory=args.directory,
        roster=args.roster,
        acts=args.acts,
        passphrase_env=args.passphrase_env,
        practice_name=args.practice_name,
    )
    config_path = init_installation(options, actor=_actor())
    folder = config_path.parent
    print(f"Installation créée dans {folder}")
    print(f"  configuration : {config_path}")
    print(f"  clés          : {folder / 'fmt.key'} (mode 0600 ; à sauvegarder à part)")
    print(f"  base chiffrée : {folder / 'fmt.sqlite3'}")
    if args.roster:
        print(f"Étape suivante : {PROG} --config {config_path} sync")
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
        print("Adaptateurs :")
        for info in adapter_infos(installation.pm):
            suffix = f" — {info.description}" if info.description else ""
            print(f"  {info.name} {info.version}{suffix}")
        return ExitStatus.OK

    return _with_installation(args, check)


def cmd_sync(args: argparse.Namespace) -> int:
    """Load the roster of every adapter into the store, reporting rejected records."""
    as_of = args.as_of or today_in_paris()

    def sync(installation: Installation) -> int:
        roster = collect_roster(installation.pm, as_of)
        summary = installation.store.sync_roster(roster.patients, actor=_actor())
        sources = ", ".join(roster.sources) or "aucun adaptateur"
        print(
            f"Patientèle synchronisée ({sources}) : {len(roster.patients)} patients — "
            f"{summary.added} ajoutés, {summary.updated} modifiés, "
            f"{summary.unchanged} inchangés, {summary.deactivated} retirés."
        )
        if roster.problems:
            print(
                f"{len(roster.problems)} enregistrement(s) écarté(s) :", file=sys.stderr
            )
            for problem in roster.problems:
                print(f"  {problem}", file=sys.stderr)
        return ExitStatus.OK

    return _with_installation(args, sync)


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

    return _with_installation(args, verify)
