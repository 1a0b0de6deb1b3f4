"""The recall sub-commands: `recalls plan|run|list|retry`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime

from fmt_plugin.commands.french_argparse import Choice, folded
from fmt_plugin.commands.invocation import (
    Subparsers,
    current_actor,
    iso_date_argument,
    with_installation,
)
from fmt_plugin.errors import ExitStatus, UsageError
from fmt_plugin.evaluation import select_rule_pack
from fmt_plugin.installation import Installation
from fmt_plugin.preflight import check_letters
from fmt_plugin.recalls import runner
from fmt_plugin.recalls.model import RecallState
from fmt_plugin.timezone import PARIS, today_in_paris
from fmt_plugin.views.french import number
from fmt_plugin.views.progress import Progress
from fmt_plugin.views.recalls import (
    STATE_LABELS,
    render_outbox,
    render_plan,
    render_plan_json,
    render_run,
)

#: `--etat envoye`: the words `recalls list` shows, typed without accents or spaces.
STATES = Choice({state: [folded(label)] for state, label in STATE_LABELS.items()})
FORMATS = Choice({"text": ["texte"], "json": ["json"]})


#: The first step of `plan` and `run`: the one that grows with the patientèle.
EVALUATING = "Évaluation de la patientèle et planification des rappels"


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    """Add `recalls plan|run|list|retry`."""
    recalls = commands.add_parser("recalls", help="rappels aux patients")
    recall_commands = recalls.add_subparsers(title="commandes", metavar="COMMANDE")
    plan = recall_commands.add_parser(
        "plan",
        parents=[common],
        help="montrer les rappels à envoyer (rien n'est écrit)",
    )
    plan.add_argument(
        "--as-of",
        type=iso_date_argument,
        metavar="DATE",
        help="date de planification, AAAA-MM-JJ ou JJ/MM/AAAA (défaut : aujourd'hui)",
    )
    plan.add_argument(
        "--format",
        type=FORMATS,
        metavar=FORMATS.metavar,
        default="text",
        help="texte (défaut) ou json, pour un autre programme",
    )
    plan.set_defaults(handler=cmd_recalls_plan)
    run = recall_commands.add_parser(
        "run", parents=[common], help="planifier et envoyer maintenant"
    )
    run.add_argument(
        "--as-of",
        type=iso_date_argument,
        metavar="DATE",
        help="date de planification, AAAA-MM-JJ ou JJ/MM/AAAA (défaut : aujourd'hui) ; "
        "l'envoi a lieu maintenant",
    )
    run.set_defaults(handler=cmd_recalls_run)
    listing = recall_commands.add_parser(
        "list", parents=[common], help="lister les rappels de la file d'envoi"
    )
    listing.add_argument(
        "--etat",
        "--state",
        dest="state",
        type=STATES,
        metavar="ÉTAT",
        help=f"seulement les rappels dans cet état : {STATES.words}",
    )
    listing.set_defaults(handler=cmd_recalls_list)
    retry = recall_commands.add_parser(
        "retry",
        parents=[common],
        help="remettre un rappel en file (après échec ou envoi incertain)",
    )
    retry.add_argument(
        "recall_id",
        type=int,
        metavar="ID",
        help="numéro du rappel (colonne n° de « recalls list »)",
    )
    retry.set_defaults(handler=cmd_recalls_retry)


def cmd_recalls_plan(args: argparse.Namespace) -> int:
    """Show what a recall run would send at --as-of; nothing is written."""

    def show(installation: Installation) -> int:
        with Progress(sys.stderr) as progress:
            progress.step(EVALUATING)
            recall_plan = runner.plan(installation, args.as_of or today_in_paris())
        if args.format == "json":
            sys.stdout.write(render_plan_json(recall_plan))
        else:
            sys.stdout.write(render_plan(recall_plan))
        return ExitStatus.OK

    return with_installation(args, show)


def cmd_recalls_run(args: argparse.Namespace) -> int:
    """Plan at --as-of, queue, and deliver what is due now (whatever the hour)."""

    def run(installation: Installation) -> int:
        # No recover_interrupted here: the service may be delivering right now; only its
        # own start-up can tell an interrupted `sending` from a live one.
        now = datetime.now(PARIS)
        # Before anything is queued: a template typo must stop the run, not fail each letter.
        check_letters(
            installation, select_rule_pack(installation.config, installation.pm)
        )
        with Progress(sys.stderr) as progress:
            progress.step(EVALUATING)
            recall_plan = runner.plan(installation, args.as_of or now.date())
            progress.step(
                f"Mise en file de {number(len(recall_plan.recalls))} message(s)"
            )
            queued = runner.queue(installation, recall_plan, now)
            due = len(installation.store.outbox.due(now))
            progress.step(f"Envoi de {number(due)} message(s)")
            report = asyncio.run(runner.deliver(installation, now))
        sys.stdout.write(render_run(queued, report))
        return ExitStatus.OK

    return with_installation(args, run)


def cmd_recalls_list(args: argparse.Namespace) -> int:
    """List the outbox, optionally one state."""

    def listing(installation: Installation) -> int:
        state = RecallState(args.state) if args.state else None
        sys.stdout.write(render_outbox(installation.store.outbox.entries(state)))
        return ExitStatus.OK

    return with_installation(args, listing)


def cmd_recalls_retry(args: argparse.Namespace) -> int:
    """Put a failed, dead or uncertain recall back in the queue."""

    def retry(installation: Installation) -> int:
        outbox = installation.store.outbox
        if outbox.get(args.recall_id) is None:
            raise UsageError(
                f"rappel n° {args.recall_id} inconnu (voir « fmt-plugin recalls list »)"
            )
        outbox.retry(args.recall_id, actor=current_actor(), now=datetime.now(PARIS))
        print(f"Rappel n° {args.recall_id} remis en file d'envoi.")
        return ExitStatus.OK

    return with_installation(args, retry)
