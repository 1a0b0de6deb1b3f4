"""What `fmt-plugin demo` prints: the installation, the HL7 replay, the indicators, the recalls.

The indicator table is what a GP looks at first: per indicator, the patients by status and the
taux d'atteinte (fait / (fait + à vérifier)), then the potentiel FMT in euros. Counts only:
no patient is named.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from fmt_plugin.demo.accounts import ACCOUNTS_FILE, DemoLogin
from fmt_plugin.demo.practice import DemoSettings
from fmt_plugin.demo.sender import SendReport
from fmt_plugin.evaluation import PracticeEvaluation
from fmt_plugin.recalls.delivery import DeliveryReport
from fmt_plugin.rules.rates import fmt_potential
from fmt_plugin.service import ServiceReady
from fmt_plugin.storage.store import SyncSummary
from fmt_plugin.views.columns import aligned_numbers
from fmt_plugin.views.french import day, elapsed, euros, number, percent

#: The ACK codes a replay shows even when none came back, in this order.
ACK_CODES = ("AA", "AE", "AR")
STATUS_HEADERS = ("fait", "à vérifier", "à venir", "exclu", "taux d'atteinte")


def render_installation(folder: Path, created: bool) -> str:
    """Which installation the demo uses."""
    what = "créée" if created else "reprise (rien n'est envoyé ni compté deux fois)"
    return f"Démonstration fmt-plugin — installation {what} : {folder}\n"


def render_roster(
    settings: DemoSettings, patients: int, sync: SyncSummary, problems: int
) -> str:
    """The synthetic patientèle and what its sync changed."""
    text = (
        f"Patientèle fictive : {number(patients)} patients (tirage n° {settings.seed}, "
        f"historique de 3 ans arrêté au {day(settings.reference_date)}) — "
        f"{number(sync.added)} ajoutés, {number(sync.updated)} modifiés, "
        f"{number(sync.unchanged)} inchangés\n"
    )
    if problems:
        text += f"  {number(problems)} enregistrement(s) écarté(s)\n"
    return text


def render_service(ready: ServiceReady) -> str:
    """Where the service started listening."""
    text = f"Service démarré : HL7 (MLLP) sur {ready.mllp_host}:{ready.mllp_port}"
    if ready.http_url:
        text += f", tableau de bord sur {ready.http_url}/"
    return text + "\n"


def render_sending(messages: int) -> str:
    """Announce the replay (it takes a few seconds)."""
    return (
        f"Envoi de {number(messages)} messages HL7 (résultats de laboratoire et "
        "vaccinations sur 3 ans) au service…\n"
    )


def render_replay(
    report: SendReport, before: Mapping[str, int], after: Mapping[str, int]
) -> str:
    """The ACKs received, and what the store kept of the messages."""
    codes = dict.fromkeys(ACK_CODES, 0) | dict(report.ack_codes)
    acks = ", ".join(f"{number(count)} {code}" for code, count in codes.items())
    if report.unanswered:
        acks += f", {number(report.unanswered)} sans réponse"
    accepted = after["accepted"] - before["accepted"]
    duplicates = after["duplicates"] - before["duplicates"]
    quarantined = after["quarantined"] - before["quarantined"]
    return (
        f"\nMessages HL7 : {number(report.sent)} envoyés ; accusés de réception : {acks}\n"
        f"  {number(accepted)} intégrés, {number(duplicates)} déjà reçus (gardés une "
        f"seule fois), {number(quarantined)} mis en quarantaine (patient inconnu du "
        f"cabinet) ; {number(after['quarantined'])} en quarantaine au total\n"
    )


def render_indicators(evaluation: PracticeEvaluation) -> str:
    """Per indicator: patients by status and the taux d'atteinte; then the potentiel FMT."""
    pack = evaluation.pack
    rates = evaluation.rates
    rows: list[tuple[str, ...]] = [("Indicateur", *STATUS_HEADERS)]
    for indicator, rate in rates.items():
        counts = (rate.fait, rate.a_verifier, rate.a_venir, rate.exclu)
        rows.append(
            (pack.indicator(indicator).label, *map(number, counts), percent(rate.taux))
        )
    potential = fmt_potential(pack, rates.values())
    return (
        f"\nIndicateurs au {day(evaluation.as_of)} (jeu {pack.id}, "
        f"{number(len(evaluation.patients))} patients) :\n"
        + "".join(f"  {line}\n" for line in aligned_numbers(rows))
        + f"Potentiel FMT : {euros(potential.earned_eur)} acquis "
        f"({number(potential.fait)} indicateurs faits), "
        f"{euros(potential.missed_eur)} à aller chercher "
        f"({number(potential.a_verifier)} à vérifier)\n"
    )


def render_recalls(
    queued: int, delivery: DeliveryReport, folder: Path | None, files: int
) -> str:
    """The recall run: messages written this time, and where."""
    where = (
        f"dans {folder} ({number(files)} fichiers .eml au total)"
        if folder is not None
        else "(aucun dossier : canal « file » non configuré)"
    )
    text = (
        f"\nRappels : {number(queued)} nouveaux planifiés, {number(delivery.sent)} "
        f"écrits {where}\n"
    )
    problems = delivery.failed + delivery.dead + delivery.uncertain
    if problems:
        text += (
            f"  {number(problems)} non écrits (à réessayer, abandonnés ou incertains) : "
            "fmt-plugin recalls list\n"
        )
    return text


def render_elapsed(seconds: float) -> str:
    """How long the demo took to get here."""
    return f"\nDémonstration prête en {elapsed(seconds)}.\n"


def render_serving(ready: ServiceReady, logins: Sequence[DemoLogin] = ()) -> str:
    """The service keeps running: the dashboard and its demo logins, how to stop it."""
    text = ""
    if ready.http_url:
        text += f"\nTableau de bord : ouvrez {ready.http_url}/ dans un navigateur.\n"
        for login in logins:
            text += (
                f"  {login.role.label:<26} identifiant « {login.name} »,"
                f" mot de passe « {login.password} »\n"
            )
        if logins:
            text += f"  (comptes de démonstration, notés dans {ACCOUNTS_FILE})\n"
    return text + (
        f"Le service continue d'écouter (HL7 sur {ready.mllp_host}:{ready.mllp_port}"
        + ") ; Ctrl-C pour l'arrêter.\n"
    )


def render_stopping() -> str:
    """`--once`: the service stops after the summary."""
    return "Service arrêté (--once).\n"


def render_stopped() -> str:
    """Ctrl-C (or SIGTERM) after the summary: the service stopped cleanly."""
    return "Service arrêté.\n"


def render_interrupted() -> str:
    """Ctrl-C before the summary."""
    return "Démonstration interrompue ; service arrêté.\n"
