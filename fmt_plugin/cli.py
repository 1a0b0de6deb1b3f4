"""The `fmt-plugin` command: argument parsing, one function per sub-command, errors → exit status."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path

from fmt_plugin import __version__
from fmt_plugin.bulk_import import import_files, input_files
from fmt_plugin.config import CONFIG_ENV_VAR, config_path_from, load_config
from fmt_plugin.demo.command import add_demo_command
from fmt_plugin.errors import (
    ConfigError,
    ExitStatus,
    FmtError,
    InputError,
    ShutdownTimeoutError,
    UsageError,
)
from fmt_plugin.evaluation import evaluate_practice, select_rule_pack
from fmt_plugin.gc_tuning import tuned_for_throughput
from fmt_plugin.installation import Installation, open_installation
from fmt_plugin.invocation import current_actor, iso_date_argument
from fmt_plugin.logs import configure_logging
from fmt_plugin.mllp.server import mllp_ssl_context
from fmt_plugin.preflight import check_installation
from fmt_plugin.recalls import runner
from fmt_plugin.recalls.model import RecallState
from fmt_plugin.roster import collect_roster
from fmt_plugin.rules import Override, OverrideKind
from fmt_plugin.scaffold import InitOptions, init_installation
from fmt_plugin.service import installation_ingestor, run_service
from fmt_plugin.storage.checkpoint import checkpointing_in_background
from fmt_plugin.timezone import PARIS, today_in_paris
from fmt_plugin.views.hl7_inbox import (
    ProgressLine,
    render_import_summary,
    render_quarantine,
    render_replay,
)
from fmt_plugin.views.patient_sheet import render_patient_sheet
from fmt_plugin.views.practice_report import (
    FORMATS,
    RENDERERS,
    ReportOptions,
    check_options,
)
from fmt_plugin.views.rate_history import render_history_json, render_history_table
from fmt_plugin.views.recalls import (
    render_outbox,
    render_plan,
    render_plan_json,
    render_run,
)

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
        "--practice-phone",
        default="",
        metavar="TÉLÉPHONE",
        help="téléphone du cabinet, écrit dans chaque rappel",
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

    report = commands.add_parser(
        "report", parents=[common], help="statut des indicateurs de toute la patientèle"
    )
    report.add_argument("--as-of", type=iso_date_argument, metavar="AAAA-MM-JJ")
    report.add_argument("--indicator", metavar="INDICATEUR")
    report.add_argument("--format", choices=FORMATS, default="table")
    report.add_argument(
        "--sort",
        default="nom",
        metavar="CLÉ",
        help="tri du tableau : nom, prenom, age, nir, patient_id, statut, echeance "
        "(préfixe - : décroissant, --sort=-age)",
    )
    report.set_defaults(handler=cmd_report)

    patient = commands.add_parser(
        "patient", parents=[common], help="suivi prévention d'un patient"
    )
    patient.add_argument("patient_id", metavar="PATIENT_ID")
    patient.add_argument("--as-of", type=iso_date_argument, metavar="AAAA-MM-JJ")
    patient.set_defaults(handler=cmd_patient)

    override = commands.add_parser(
        "override",
        parents=[common],
        help="enregistrer une décision du cabinet (exclusion, refus, report, fait ailleurs)",
    )
    override.add_argument("patient_id", metavar="PATIENT_ID")
    override.add_argument("indicator", metavar="INDICATEUR")
    override.add_argument(
        "--kind", required=True, choices=[str(k) for k in OverrideKind]
    )
    override.add_argument("--reason", required=True, metavar="MOTIF")
    override.add_argument("--author", metavar="AUTEUR", help="défaut : l'utilisateur")
    override.add_argument(
        "--date",
        type=iso_date_argument,
        metavar="AAAA-MM-JJ",
        help="date de l'acte (fait_ailleurs) ou fin du report (report)",
    )
    override.add_argument("--expires", type=iso_date_argument, metavar="AAAA-MM-JJ")
    override.add_argument(
        "--recorded-on",
        type=iso_date_argument,
        metavar="AAAA-MM-JJ",
        help="date de la décision, si elle a été prise avant sa saisie (défaut : aujourd'hui)",
    )
    override.set_defaults(handler=cmd_override)

    overrides = commands.add_parser(
        "overrides", parents=[common], help="lister les décisions du cabinet"
    )
    overrides.add_argument("patient_id", nargs="?", metavar="PATIENT_ID")
    overrides.add_argument("--all", action="store_true", help="y compris les révoquées")
    overrides.set_defaults(handler=cmd_overrides)

    revoke = commands.add_parser(
        "override-revoke", parents=[common], help="révoquer une décision du cabinet"
    )
    revoke.add_argument("override_id", type=int, metavar="NUMÉRO")
    revoke.set_defaults(handler=cmd_override_revoke)

    history = commands.add_parser(
        "history",
        parents=[common],
        help="évolution des taux d'atteinte (instantanés de chaque nuit)",
    )
    history.add_argument(
        "--days",
        type=int,
        default=7,
        metavar="N",
        help="les N derniers instantanés (défaut : 7)",
    )
    history.add_argument("--format", choices=("table", "json"), default="table")
    history.set_defaults(handler=cmd_history)

    _add_hl7_commands(commands, common)
    add_demo_command(commands)

    audit = commands.add_parser("audit", help="journal d'audit")
    audit_commands = audit.add_subparsers(title="commandes", metavar="COMMANDE")
    verify = audit_commands.add_parser(
        "verify", parents=[common], help="vérifier la chaîne du journal"
    )
    verify.set_defaults(handler=cmd_audit_verify)
    return parser


def _add_hl7_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
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
    _add_recall_commands(commands, common)


def _add_recall_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    recalls = commands.add_parser("recalls", help="rappels aux patients")
    recall_commands = recalls.add_subparsers(title="commandes", metavar="COMMANDE")
    plan = recall_commands.add_parser(
        "plan",
        parents=[common],
        help="montrer les rappels à envoyer (rien n'est écrit)",
    )
    plan.add_argument("--as-of", type=iso_date_argument, metavar="AAAA-MM-JJ")
    plan.add_argument("--format", choices=("text", "json"), default="text")
    plan.set_defaults(handler=cmd_recalls_plan)
    run = recall_commands.add_parser(
        "run", parents=[common], help="planifier et envoyer maintenant"
    )
    run.add_argument("--as-of", type=iso_date_argument, metavar="AAAA-MM-JJ")
    run.set_defaults(handler=cmd_recalls_run)
    listing = recall_commands.add_parser(
        "list", parents=[common], help="lister les rappels de la file d'envoi"
    )
    listing.add_argument(
        "--state", choices=[state.value for state in RecallState], metavar="ÉTAT"
    )
    listing.set_defaults(handler=cmd_recalls_list)
    retry = recall_commands.add_parser(
        "retry",
        parents=[common],
        help="remettre un rappel en file (après échec ou envoi incertain)",
    )
    retry.add_argument("recall_id", type=int, metavar="ID")
    retry.set_defaults(handler=cmd_recalls_retry)


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
        practice_phone=args.practice_phone,
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
            _sync_roster(installation, today_in_paris())
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

    return _with_installation(args, check)


def cmd_sync(args: argparse.Namespace) -> int:
    """Load the roster of every adapter into the store, reporting rejected records."""
    as_of = args.as_of or today_in_paris()

    def sync(installation: Installation) -> int:
        _sync_roster(installation, as_of)
        return ExitStatus.OK

    return _with_installation(args, sync)


def _sync_roster(installation: Installation, as_of: date) -> None:
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


def cmd_report(args: argparse.Namespace) -> int:
    """Evaluate every active patient and print the report in the chosen format."""
    as_of = args.as_of or today_in_paris()
    options = ReportOptions(indicator=args.indicator, sort=args.sort)

    def report(installation: Installation) -> int:
        pack = select_rule_pack(installation.config, installation.pm)
        evaluation = evaluate_practice(installation.store, installation.pm, pack, as_of)
        check_options(evaluation, options)
        sys.stdout.write(RENDERERS[args.format](evaluation, options))
        return ExitStatus.OK

    return _with_installation(args, report)


def cmd_patient(args: argparse.Namespace) -> int:
    """Print one patient's "Suivi prévention"."""
    as_of = args.as_of or today_in_paris()

    def sheet(installation: Installation) -> int:
        pack = select_rule_pack(installation.config, installation.pm)
        practice = evaluate_practice(
            installation.store,
            installation.pm,
            pack,
            as_of,
            patient_ids=[args.patient_id],
        )
        if not practice.evaluations:
            raise ConfigError(
                f"patient « {args.patient_id} » inconnu de la base",
                key="PATIENT_ID",
                expected=f"un patient synchronisé ({PROG} sync)",
            )
        patient_id = practice.evaluations[0].patient_id
        text = render_patient_sheet(
            pack,
            practice.patients[patient_id],
            practice.evaluations[0],
            practice.overrides.get(patient_id, ()),
        )
        print(text, end="")
        return ExitStatus.OK

    return _with_installation(args, sheet)


def cmd_override(args: argparse.Namespace) -> int:
    """Record a practice decision for one patient and one indicator (audited)."""
    today = today_in_paris()
    recorded_on = args.recorded_on or today
    if recorded_on > today:
        raise ConfigError(
            "une décision ne peut pas être datée dans le futur",
            key="--recorded-on",
            expected=f"au plus tard le {today.isoformat()}",
        )
    kind = OverrideKind(args.kind)
    _check_override_dates(kind, args.date, args.expires, recorded_on)

    def record(installation: Installation) -> int:
        pack = select_rule_pack(installation.config, installation.pm)
        if args.indicator not in pack.indicator_ids:
            raise ConfigError(
                f"indicateur « {args.indicator} » inconnu du jeu « {pack.id} »",
                key="INDICATEUR",
                expected=", ".join(pack.indicator_ids),
            )
        saved = installation.store.add_override(
            Override(
                patient_id=args.patient_id,
                indicator=args.indicator,
                kind=kind,
                author=args.author or current_actor().removeprefix("cli:"),
                recorded_on=recorded_on,
                reason=args.reason,
                date=args.date,
                expires=args.expires,
            ),
            actor=current_actor(),
        )
        print(
            f"Décision n° {saved.override_id} enregistrée pour le patient "
            f"{saved.patient_id} ({saved.indicator} : {saved.kind})."
        )
        return ExitStatus.OK

    return _with_installation(args, record)


def _check_override_dates(
    kind: OverrideKind, when: date | None, expires: date | None, recorded_on: date
) -> None:
    if kind in (OverrideKind.FAIT_AILLEURS, OverrideKind.REPORT) and when is None:
        raise ConfigError(
            f"une décision « {kind} » demande une date",
            key="--date",
            expected="AAAA-MM-JJ (date de l'acte, ou fin du report)",
        )
    if kind is OverrideKind.FAIT_AILLEURS and when is not None and when > recorded_on:
        raise ConfigError(
            "un acte fait ailleurs ne peut pas être postérieur à sa déclaration",
            key="--date",
            expected=f"au plus tard le {recorded_on.isoformat()}",
        )
    if kind is OverrideKind.REPORT and when is not None and when <= recorded_on:
        raise ConfigError(
            "un report de rappels se termine après la décision",
            key="--date",
            expected=f"après le {recorded_on.isoformat()}",
        )
    if (
        kind not in (OverrideKind.FAIT_AILLEURS, OverrideKind.REPORT)
        and when is not None
    ):
        raise ConfigError(
            f"une décision « {kind} » ne prend pas de date",
            key="--date",
            expected="--expires pour limiter sa durée",
        )
    if expires is not None and expires < recorded_on:
        raise ConfigError(
            "une décision ne peut pas expirer avant d'être prise",
            key="--expires",
            expected=f"au plus tôt le {recorded_on.isoformat()}",
        )


def cmd_overrides(args: argparse.Namespace) -> int:
    """List the practice's decisions (of one patient, or all)."""

    def listing(installation: Installation) -> int:
        found = installation.store.overrides(args.patient_id, include_revoked=args.all)
        if not found:
            print("Aucune décision enregistrée.")
        for item in found:
            line = (
                f"n° {item.override_id}  {item.patient_id}  {item.indicator}  {item.kind}"
                f"  par {item.author} le {item.recorded_on.isoformat()}"
            )
            if item.date:
                line += f"  date {item.date.isoformat()}"
            if item.expires:
                line += f"  jusqu'au {item.expires.isoformat()}"
            print(line + f"  — {item.reason}")
        return ExitStatus.OK

    return _with_installation(args, listing)


def cmd_override_revoke(args: argparse.Namespace) -> int:
    """Revoke a practice decision by its number (audited; the record is kept)."""

    def revoke(installation: Installation) -> int:
        installation.store.revoke_override(args.override_id, actor=current_actor())
        print(f"Décision n° {args.override_id} révoquée.")
        return ExitStatus.OK

    return _with_installation(args, revoke)


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
        print(f"{PROG}: erreur : {exc}", file=sys.stderr, flush=True)
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

    return _with_installation(args, run)


def cmd_quarantine_list(args: argparse.Namespace) -> int:
    """List the messages kept in quarantine, with why."""

    def listing(installation: Installation) -> int:
        inbox = installation.store.inbox
        records = inbox.quarantined()
        origins = {r.message_id: inbox.origin(r.message_id) for r in records}
        sys.stdout.write(render_quarantine(records, origins))
        return ExitStatus.OK

    return _with_installation(args, listing)


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

    return _with_installation(args, replay)


def cmd_history(args: argparse.Namespace) -> int:
    """Show the taux d'atteinte of the last nightly snapshots."""
    if args.days < 1:
        raise UsageError(f"--days {args.days} : au moins 1 jour")

    def show(installation: Installation) -> int:
        history = installation.store.snapshots.history()
        if args.format == "json":
            sys.stdout.write(render_history_json(history, args.days))
        else:
            pack = select_rule_pack(installation.config, installation.pm)
            sys.stdout.write(render_history_table(history, pack, args.days))
        return ExitStatus.OK

    return _with_installation(args, show)


def cmd_recalls_plan(args: argparse.Namespace) -> int:
    """Show what a recall run would send at --as-of; nothing is written."""

    def show(installation: Installation) -> int:
        recall_plan = runner.plan(installation, args.as_of or today_in_paris())
        if args.format == "json":
            sys.stdout.write(render_plan_json(recall_plan))
        else:
            sys.stdout.write(render_plan(recall_plan))
        return ExitStatus.OK

    return _with_installation(args, show)


def cmd_recalls_run(args: argparse.Namespace) -> int:
    """Plan at --as-of, queue, and deliver what is due now (whatever the hour)."""

    def run(installation: Installation) -> int:
        # No recover_interrupted here: the service may be delivering right now; only its
        # own start-up can tell an interrupted `sending` from a live one.
        now = datetime.now(PARIS)
        recall_plan = runner.plan(installation, args.as_of or now.date())
        queued = runner.queue(installation, recall_plan, now)
        report = asyncio.run(runner.deliver(installation, now))
        sys.stdout.write(render_run(queued, report))
        return ExitStatus.OK

    return _with_installation(args, run)


def cmd_recalls_list(args: argparse.Namespace) -> int:
    """List the outbox, optionally one state."""

    def listing(installation: Installation) -> int:
        state = RecallState(args.state) if args.state else None
        sys.stdout.write(render_outbox(installation.store.outbox.entries(state)))
        return ExitStatus.OK

    return _with_installation(args, listing)


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

    return _with_installation(args, retry)
