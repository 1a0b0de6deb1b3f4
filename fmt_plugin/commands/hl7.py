"""The HL7 sub-commands: `serve` (the service), `import` and `quarantine`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from fmt_plugin.bulk_import import (
    BATCH_SIZE,
    import_files,
    input_files,
    worker_preparer,
)
from fmt_plugin.commands.invocation import Subparsers, current_actor, with_installation
from fmt_plugin.config import config_path_from, load_config
from fmt_plugin.errors import ExitStatus, ShutdownTimeoutError, UsageError
from fmt_plugin.gc_tuning import tuned_for_throughput
from fmt_plugin.hl7.identity import received_identity
from fmt_plugin.installation import Installation
from fmt_plugin.logs import configure_logging
from fmt_plugin.quarantine import discard_quarantined, replay_quarantined
from fmt_plugin.service import installation_ingestor, run_service
from fmt_plugin.storage.checkpoint import checkpointing_in_background
from fmt_plugin.timezone import today_in_paris
from fmt_plugin.views.hl7_inbox import (
    ProgressLine,
    render_import_summary,
    render_quarantine,
    render_replay,
)

PROG = "fmt-plugin"
log = logging.getLogger(__name__)

#: One parsing worker as soon as there is a second core: on an idle two-core machine it
#: took 100,000 messages from about 5,000 to 7,500 msg/s (bench/README.md, issue 17).
DEFAULT_WORKERS = 1 if (os.cpu_count() or 1) >= 2 else 0


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    """Add `serve`, `import` and `quarantine list|replay|discard`."""
    serve = commands.add_parser(
        "serve",
        parents=[common],
        help="lancer le service (réception HL7 MLLP, rappels planifiés)",
    )
    serve.add_argument(
        "--mllp-port",
        type=int,
        metavar="PORT",
        help="port d'écoute HL7 (remplace [mllp] port ; 0 = un port libre)",
    )
    serve.add_argument(
        "--http-port",
        type=int,
        metavar="PORT",
        help="port de la page d'état /status (remplace [http] port ; 0 = un port libre)",
    )
    serve.set_defaults(handler=cmd_serve)

    imp = commands.add_parser(
        "import", parents=[common], help="importer des fichiers de messages HL7"
    )
    imp.add_argument(
        "paths",
        type=Path,
        nargs="+",
        metavar="CHEMIN",
        help="fichiers ou dossiers de messages HL7 (dossiers parcourus en entier ; "
        "les fichiers qui ne sont pas du HL7 y sont ignorés et listés)",
    )
    imp.add_argument(
        "--batch-size",
        type=_positive,
        default=BATCH_SIZE,
        metavar="N",
        help=f"messages par transaction (défaut {BATCH_SIZE}) ; chaque lot annoncé est "
        "enregistré : après une interruption, relancer le même import reprend la suite",
    )
    imp.add_argument(
        "--workers",
        type=int,
        default=DEFAULT_WORKERS,
        metavar="N",
        help="processus qui lisent les messages pendant que celui-ci enregistre (défaut "
        f"{DEFAULT_WORKERS} sur cette machine : 1 dès deux cœurs, 0 = tout dans ce "
        "processus, mieux quand la machine est déjà chargée)",
    )
    imp.set_defaults(handler=cmd_import)

    quarantine = commands.add_parser(
        "quarantine",
        help="messages HL7 en quarantaine (non intégrés)",
        description="Les messages HL7 qui n'ont pas pu être intégrés (patient inconnu, "
        "champ manquant…), gardés entiers et chiffrés : les lister, les rejouer après "
        "correction, ou écarter ceux qui ne sont pas pour le cabinet.",
    )
    quarantine_commands = quarantine.add_subparsers(
        title="commandes", metavar="COMMANDE"
    )
    listing = quarantine_commands.add_parser(
        "list",
        parents=[common],
        help="lister les messages en quarantaine, avec le patient qu'ils nomment",
    )
    listing.add_argument(
        "--all", action="store_true", help="y compris les messages écartés"
    )
    listing.set_defaults(handler=cmd_quarantine_list)
    replay = quarantine_commands.add_parser(
        "replay",
        parents=[common],
        help="rejouer des messages (après ajout du patient à la patientèle…)",
    )
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "message_ids",
        type=int,
        nargs="*",
        default=[],
        metavar="ID",
        help="numéros des messages (un message écarté se rejoue par son numéro)",
    )
    which.add_argument(
        "--all", action="store_true", help="toute la quarantaine, sauf les écartés"
    )
    replay.set_defaults(handler=cmd_quarantine_replay)
    discard = quarantine_commands.add_parser(
        "discard",
        parents=[common],
        help="écarter des messages qui ne sont pas pour le cabinet (gardés, plus comptés)",
        description="Écarte des messages de la quarantaine : ils restent entiers et "
        "chiffrés dans la base, ne sont plus comptés ni rejoués par « replay --all », et "
        "se voient avec « quarantine list --all » ; l'opération est tracée dans le "
        "journal d'audit. Un message écarté peut encore être rejoué par son numéro.",
    )
    discard.add_argument(
        "message_ids",
        type=int,
        nargs="+",
        metavar="ID",
        help="numéros des messages (fmt-plugin quarantine list)",
    )
    discard.set_defaults(handler=cmd_quarantine_discard)


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the service in the foreground until SIGTERM or Ctrl-C."""
    config_path = config_path_from(args.config, os.environ)
    configure_logging(load_config(config_path).logging)
    service = run_service(
        config_path, mllp_port=args.mllp_port, http_port=args.http_port
    )
    try:
        with tuned_for_throughput():
            asyncio.run(service)
    except ShutdownTimeoutError as exc:
        # A job or a commit is stuck in a worker thread that Python would wait for at exit:
        # leave now, as promised; what was not finished is safe (see the error's text).
        print(f"{PROG} : erreur : {exc}", file=sys.stderr, flush=True)
        logging.shutdown()
        os._exit(ExitStatus.FAILURE)
    return ExitStatus.OK


def cmd_import(args: argparse.Namespace) -> int:
    """Import HL7 files or folders through the same pipeline as the listener.

    Exit 1 when a file could not be read, when a file named on the command line is not HL7,
    or when nothing but non-HL7 files was found; files in a folder that are not HL7 are only
    listed as skipped (a warning) and the import succeeds.
    """

    def run(installation: Installation) -> int:
        files = input_files(args.paths)
        named = {path for path in args.paths if path.is_file()}
        ingestor = installation_ingestor(installation)
        terminal = sys.stderr.isatty()
        progress = ProgressLine(sys.stderr) if terminal else CommittedLines(sys.stderr)
        # The workers are forked first, before the checkpointer's thread exists.
        with (
            tuned_for_throughput(),
            worker_preparer(ingestor, installation.pm, args.workers) as preparer,
            checkpointing_in_background(installation.store),
        ):
            summary = import_files(
                ingestor,
                files,
                named=named,
                progress=progress,
                batch_size=args.batch_size,
                preparer=preparer,
            )
        if isinstance(progress, ProgressLine):
            progress.finish()
        installation.store.record_admin_action(
            actor=current_actor(),
            action="hl7.import",
            detail=(
                f"messages={summary.messages} accepted={summary.accepted} "
                f"duplicates={summary.duplicates} quarantined={summary.quarantined} "
                f"skipped={len(summary.skipped)} rejected={len(summary.rejected)}"
            ),
        )
        sys.stdout.write(render_import_summary(summary))
        nothing_found = not summary.files and bool(summary.skipped)
        failed = summary.unreadable or summary.rejected or nothing_found
        return ExitStatus.FAILURE if failed else ExitStatus.OK

    return with_installation(args, run)


class CommittedLines:
    """Progress off a terminal (a log, a pipe): one line per committed batch.

    Each line counts messages already in the store, so after a crash the last line printed
    is a floor of what was imported.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._last = 0

    def __call__(self, done: int, total: int, messages: int) -> None:
        """Print the count of messages committed, when it grew."""
        del done, total
        if messages > self._last:
            self._stream.write(
                f"{PROG} : {messages} messages importés et enregistrés\n"
            )
            self._stream.flush()
            self._last = messages


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("un nombre positif est attendu")
    return value


def cmd_quarantine_list(args: argparse.Namespace) -> int:
    """List the messages kept in quarantine: who they name, when, from whom, and why."""

    def listing(installation: Installation) -> int:
        inbox = installation.store.inbox
        waiting = inbox.quarantined()
        discarded = inbox.discarded()
        shown = waiting + discarded if args.all else waiting
        origins = {r.message_id: inbox.origin(r.message_id) for r in shown}
        # Decrypted and parsed for this display only: never logged.
        identities = {
            r.message_id: received_identity(inbox.raw(r.message_id)) for r in shown
        }
        sys.stdout.write(
            render_quarantine(
                waiting,
                origins,
                identities,
                discarded=discarded,
                show_discarded=args.all,
            )
        )
        return ExitStatus.OK

    return with_installation(args, listing)


def cmd_quarantine_replay(args: argparse.Namespace) -> int:
    """Replay quarantined messages; exit 1 if some stay in quarantine.

    `--all` replays the messages waiting; a discarded one is replayed only by its id, and
    stays discarded if it fails again.
    """

    def replay(installation: Installation) -> int:
        inbox = installation.store.inbox
        waiting = [r.message_id for r in inbox.quarantined()]
        discarded = {r.message_id for r in inbox.discarded()}
        ids = waiting if args.all else list(dict.fromkeys(args.message_ids))
        _check_in_quarantine(ids, set(waiting) | discarded, "rien n'a été rejoué")
        if not ids:
            print("Quarantaine vide : rien à rejouer.")
            return ExitStatus.OK
        results = replay_quarantined(
            installation, ids, actor=current_actor(), as_of=today_in_paris()
        )
        sys.stdout.write(render_replay(results, discarded))
        return ExitStatus.OK if all(r.accepted for r in results) else ExitStatus.FAILURE

    return with_installation(args, replay)


def cmd_quarantine_discard(args: argparse.Namespace) -> int:
    """Set quarantined messages aside as junk: kept encrypted, audited, no longer counted."""

    def discard(installation: Installation) -> int:
        store = installation.store
        ids = list(dict.fromkeys(args.message_ids))
        waiting = {r.message_id for r in store.inbox.quarantined()}
        already = [
            i for i in ids if i in {r.message_id for r in store.inbox.discarded()}
        ]
        if already:
            raise UsageError(
                f"déjà écarté(s) : {_numbers(already)} ; rien n'a été écarté"
            )
        _check_in_quarantine(ids, waiting, "rien n'a été écarté")
        discard_quarantined(store, ids, actor=current_actor(), at=datetime.now(UTC))
        if len(ids) == 1:
            done = (
                f"Message {_numbers(ids)} écarté : gardé chiffré, il n'est plus compté "
                "en quarantaine."
            )
        else:
            done = (
                f"Messages {_numbers(ids)} écartés : gardés chiffrés, ils ne sont plus "
                "comptés en quarantaine."
            )
        print(
            f"{done} « {PROG} quarantine list --all » les montre ; "
            f"« {PROG} quarantine replay ID » peut encore les rejouer."
        )
        return ExitStatus.OK

    return with_installation(args, discard)


def _check_in_quarantine(ids: list[int], known: set[int], nothing_done: str) -> None:
    """UsageError naming the ids that are not quarantined messages."""
    missing = [i for i in ids if i not in known]
    if missing:
        raise UsageError(
            f"pas en quarantaine (déjà intégré(s) ou numéro(s) inconnu(s)) : "
            f"{_numbers(missing)} ; {nothing_done} (fmt-plugin quarantine list --all)"
        )


def _numbers(ids: list[int]) -> str:
    return ", ".join(f"n° {i}" for i in ids)
