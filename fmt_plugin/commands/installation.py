"""The installation's sub-commands: `init`, `check-config` and `sync`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from fmt_plugin.commands.invocation import (
    Subparsers,
    current_actor,
    iso_date_argument,
    with_installation,
)
from fmt_plugin.errors import ExitStatus, FmtError, InputError
from fmt_plugin.installation import Installation, open_installation
from fmt_plugin.mllp.server import mllp_ssl_context
from fmt_plugin.preflight import check_installation
from fmt_plugin.roster import collect_roster, too_many_departures
from fmt_plugin.scaffold import InitOptions, init_installation
from fmt_plugin.storage.store import SyncSummary
from fmt_plugin.timezone import today_in_paris
from fmt_plugin.views.french import number, percent

PROG = "fmt-plugin"


#: Retired patient ids shown after a sync; the rest are counted.
SHOWN_RETIRED = 20


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    """Add `init`, `check-config` and `sync`."""
    init = commands.add_parser(
        "init", help="créer une installation (configuration, clés, base vide)"
    )
    init.add_argument(
        "directory",
        type=Path,
        metavar="DOSSIER",
        help="dossier de l'installation (créé s'il n'existe pas ; jamais écrasé)",
    )
    init.add_argument(
        "--roster",
        type=Path,
        metavar="FICHIER.csv",
        help="export CSV de la patientèle, chargé aussitôt (séparateur « ; », « , » ou "
        "tabulation, UTF-8 ou Windows-1252, dates JJ/MM/AAAA ou AAAA-MM-JJ : détectés)",
    )
    init.add_argument(
        "--acts",
        type=Path,
        metavar="FICHIER.csv",
        help="export CSV des actes du logiciel médical (avec --roster)",
    )
    init.add_argument(
        "--practice-name",
        default="",
        metavar="NOM",
        help="nom du cabinet, écrit dans chaque rappel",
    )
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
    sync.add_argument(
        "--as-of",
        type=iso_date_argument,
        metavar="AAAA-MM-JJ",
        help="date de la patientèle demandée aux adaptateurs (défaut : aujourd'hui)",
    )
    sync.add_argument(
        "--allow-retire",
        action="store_true",
        help="retirer les patients absents de l'export même au-delà de "
        "[roster] max_retire_percent (ils sont retirés, jamais supprimés)",
    )
    sync.set_defaults(handler=cmd_sync)


def cmd_init(args: argparse.Namespace) -> int:
    """Create an installation in DIR, and load its roster at once; all or nothing."""
    options = InitOptions(
        directory=args.directory,
        roster=args.roster,
        acts=args.acts,
        passphrase_env=args.passphrase_env,
        practice_name=args.practice_name,
        practice_phone=args.practice_phone,
        doctor=args.doctor,
    )
    synced: list[SyncReport] = []

    def first_sync(config_path: Path) -> None:
        # So that the installation is usable at once (HL7 import, report). A roster giving
        # no patient at all fails `init`, which then leaves nothing behind.
        with open_installation(config_path) as installation:
            synced.append(sync_roster(installation, today_in_paris()))

    try:
        config_path = init_installation(
            options, actor=current_actor(), then=first_sync if args.roster else None
        )
    except FmtError as exc:
        print(f"{PROG}: erreur : {exc}", file=sys.stderr)
        print(
            f"Installation non créée, rien n'a été laissé dans {args.directory} : "
            "corrigez la cause, puis relancez la même commande.",
            file=sys.stderr,
        )
        return exc.exit_status
    folder = config_path.parent
    print(f"Installation créée dans {folder}")
    print(f"  configuration : {config_path}")
    print(f"  clés          : {folder / 'fmt.key'} (mode 0600 ; à sauvegarder à part)")
    print(f"  base chiffrée : {folder / 'fmt.sqlite3'}")
    for report in synced:
        print(report.render())
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
            f"{number(len(store.patient_ids()))} patients actifs)"
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
    """Load the roster of every adapter into the store, reporting rejected records.

    Exit 1, nothing changed, when a file cannot be read, when no patient is usable, or when
    more patients would be retired than `[roster] max_retire_percent` allows.
    """
    as_of = args.as_of or today_in_paris()

    def sync(installation: Installation) -> int:
        report = sync_roster(installation, as_of, allow_retire=args.allow_retire)
        print(report.render())
        return ExitStatus.OK

    return with_installation(args, sync)


@dataclass(frozen=True)
class SyncReport:
    """What a sync did, for the practice to read."""

    sources: tuple[str, ...]
    patients: int
    summary: SyncSummary

    def render(self) -> str:
        """`Patientèle synchronisée (csv_roster) : 1 234 patients — …`, then who left."""
        summary = self.summary
        sources = ", ".join(self.sources) or "aucun adaptateur"
        counts = (
            f"{number(summary.added)} ajoutés, {number(summary.updated)} modifiés, "
            f"{number(summary.unchanged)} inchangés, {number(summary.deactivated)} retirés"
        )
        total = number(self.patients)
        lines = [f"Patientèle synchronisée ({sources}) : {total} patients — {counts}."]
        if summary.deactivated_ids:
            shown = ", ".join(summary.deactivated_ids[:SHOWN_RETIRED])
            more = len(summary.deactivated_ids) - SHOWN_RETIRED
            if more > 0:
                shown += f" et {number(more)} autres"
            lines.append(
                f"  retirés (absents de l'export, gardés dans la base) : {shown}"
            )
        return "\n".join(lines)


class _DepartureGuard:
    """Refuses a sync that retires more than `max_percent` % of the active patients.

    With `allowed`, it only remembers the numbers, so that the override can be audited.
    """

    def __init__(self, max_percent: int, *, allowed: bool, rejected: int) -> None:
        self.max_percent = max_percent
        self.allowed = allowed
        self.rejected = rejected
        self.exceeded = False
        self.active = 0

    def __call__(self, leaving: Sequence[str], active: int) -> None:
        self.active = active
        self.exceeded = too_many_departures(len(leaving), active, self.max_percent)
        if self.exceeded and not self.allowed:
            advice = "Vérifiez que l'export est complet et bien lu"
            if self.rejected:
                advice += " (lignes écartées ci-dessus)"
            raise InputError(
                "synchronisation arrêtée, rien n'a été modifié : "
                f"{number(len(leaving))} des {number(active)} patients actifs "
                f"({percent(len(leaving) / active)}) seraient retirés, au-delà de la limite "
                f"de {number(self.max_percent)} % ([roster] max_retire_percent).\n"
                f"{advice}. Si ces patients ont vraiment quitté la patientèle : "
                f"« {PROG} sync --allow-retire » (ils seront retirés, jamais supprimés)."
            )


def sync_roster(
    installation: Installation, as_of: date, *, allow_retire: bool = False
) -> SyncReport:
    """Load every adapter's roster at `as_of` into the store; report the rejected records.

    The rejected records go to stderr first. Raises InputError, writing nothing, when a file
    cannot be read, when records were read but none is usable, or when the departure guard
    refuses (see `_DepartureGuard`).
    """
    roster = collect_roster(installation.pm, as_of)
    if roster.problems:
        print(
            f"{number(len(roster.problems))} ligne(s) ou colonne(s) écartée(s) :",
            file=sys.stderr,
        )
        for problem in roster.problems:
            print(f"  {problem}", file=sys.stderr)
    if not roster.patients and roster.problems:
        raise InputError(
            "aucun patient utilisable : toutes les lignes lues sont écartées (voir "
            "ci-dessus) ; rien n'a été modifié"
        )
    actor = current_actor()
    guard = _DepartureGuard(
        installation.config.roster.max_retire_percent,
        allowed=allow_retire,
        rejected=len(roster.problems),
    )
    summary = installation.store.sync_roster(
        roster.patients, actor=actor, check_departures=guard
    )
    if guard.exceeded:
        installation.store.record_admin_action(
            actor=actor,
            action="roster.allow_retire",
            detail=f"retired={summary.deactivated} active={guard.active} "
            f"max_percent={guard.max_percent}",
        )
    return SyncReport(roster.sources, len(roster.patients), summary)
