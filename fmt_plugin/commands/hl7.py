"""The HL7 sub-commands: `serve` (the service), `import` and `quarantine`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from fmt_plugin.bulk_import import import_files, input_files
from fmt_plugin.commands.invocation import Subparsers, current_actor, with_installation
from fmt_plugin.config import config_path_from, load_config
from fmt_plugin.errors import ExitStatus, InputError, ShutdownTimeoutError
from fmt_plugin.gc_tuning import tuned_for_throughput
from fmt_plugin.installation import Installation
from fmt_plugin.logs import configure_logging
from fmt_plugin.service import installation_ingestor, run_service
from fmt_plugin.storage.checkpoint import checkpointing_in_background
from fmt_plugin.views.hl7_inbox import (
    ProgressLine,
    render_import_summary,
    render_quarantine,
    render_replay,
)

PROG = "fmt-plugin"


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    """Add `serve`, `import` and `quarantine list|replay`."""
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
    imp.add_argument("paths", type=Path, nargs="+", metavar="CHEMIN")
    imp.set_defaults(handler=cmd_import)

    quarantine = commands.add_parser(
        "quarantine", help="messages HL7 en quarantaine (non intégrés)"
    )
    quarantine_commands = quarantine.add_subparsers(
        title="commandes", metavar="COMMANDE"
    )
    listing = quarantine_commands.add_parser(
        "list", parents=[common], help="lister les messages en quarantaine"
    )
    listing.set_defaults(handler=cmd_quarantine_list)
    replay = quarantine_commands.add_parser(
        "replay",
        parents=[common],
        help="rejouer des messages (après ajout du patient à la patientèle…)",
    )
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument("message_ids", type=int, nargs="*", default=[], metavar="ID")
    which.add_argument("--all", action="store_true", help="toute la quarantaine")
    replay.set_defaults(handler=cmd_quarantine_replay)


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
    """Import HL7 files or folders through the same pipeline as the listener."""

    def run(installation: Installation) -> int:
        files = input_files(args.paths)
        ingestor = installation_ingestor(installation)
        progress = ProgressLine(sys.stderr) if sys.stderr.isatty() else None
        with (
            checkpointing_in_background(installation.store),
            tuned_for_throughput(),
        ):
            summary = import_files(ingestor, files, progress=progress)
        if progress is not None:
            progress.finish()
        installation.store.record_admin_action(
            actor=current_actor(),
            action="hl7.import",
            detail=(
                f"messages={summary.messages} accepted={summary.accepted} "
                f"duplicates={summary.duplicates} quarantined={summary.quarantined}"
            ),
        )
        sys.stdout.write(render_import_summary(summary))
        return ExitStatus.FAILURE if summary.unreadable else ExitStatus.OK

    return with_installation(args, run)


def cmd_quarantine_list(args: argparse.Namespace) -> int:
    """List the messages kept in quarantine, with why."""

    def listing(installation: Installation) -> int:
        inbox = installation.store.inbox
        records = inbox.quarantined()
        origins = {r.message_id: inbox.origin(r.message_id) for r in records}
        sys.stdout.write(render_quarantine(records, origins))
        return ExitStatus.OK

    return with_installation(args, listing)


def cmd_quarantine_replay(args: argparse.Namespace) -> int:
    """Replay quarantined messages; exit 1 if some stay in quarantine."""

    def replay(installation: Installation) -> int:
        inbox = installation.store.inbox
        quarantined = {r.message_id for r in inbox.quarantined()}
        ids = sorted(quarantined) if args.all else list(args.message_ids)
        unknown = [i for i in ids if i not in quarantined]
        if unknown:
            raise InputError(
                f"message(s) absent(s) de la quarantaine : {unknown}",
                column="ID",
            )
        if not ids:
            print("Quarantaine vide : rien à rejouer.")
            return ExitStatus.OK
        ingestor = installation_ingestor(installation)
        results = ingestor.replay(ids, actor=current_actor())
        sys.stdout.write(render_replay(results))
        return ExitStatus.OK if all(r.accepted for r in results) else ExitStatus.FAILURE

    return with_installation(args, replay)
