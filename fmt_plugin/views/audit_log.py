"""French view of the audit log: what each action code means, and entries' times on the practice's clock."""

from __future__ import annotations

from datetime import datetime

from fmt_plugin.storage.audit import AuditReport
from fmt_plugin.timezone import PARIS
from fmt_plugin.views.french import number

#: What the practice reads for each action the code records (`action=` in fmt_plugin).
#: An action missing here is shown by its code: a new one must never hide an entry.
ACTION_LABELS = {
    "installation.init": "création de l'installation",
    "store.create": "création de la base",
    "store.backup": "sauvegarde de la base",
    "store.restore": "restauration de la base depuis une sauvegarde",
    "audit.anchor": "ancrage du journal hors de la base",
    "audit.reanchor": "nouvel ancrage du journal (ancre perdue ou déplacée)",
    "patient.add": "patient ajouté à la patientèle",
    "patient.update": "patient modifié",
    "patient.deactivate": "patient sorti de la patientèle",
    "roster.allow_retire": "synchronisation forcée malgré les retraits",
    "override.add": "décision enregistrée pour un patient",
    "override.revoke": "décision annulée",
    "recall.plan": "rappel planifié",
    "recall.sending": "rappel en cours d'envoi",
    "recall.sent": "rappel envoyé",
    "recall.failed": "échec d'envoi d'un rappel (nouvel essai prévu)",
    "recall.dead": "rappel abandonné",
    "recall.uncertain": "envoi de rappel incertain",
    "recall.rejected": "rappel refusé par un canal",
    "recall.retry": "rappel remis en file",
    "hl7.import": "import de fichiers HL7",
    "hl7.replay": "rejeu de messages en quarantaine",
    "hl7.discard": "message écarté de la quarantaine",
    "keys.rotate": "rotation des clés : nouvelle clé de données primaire",
    "keys.reencrypt": "rotation des clés : valeurs ré-chiffrées sous la nouvelle clé",
    "keys.retire": "rotation des clés : ancienne clé retirée du fichier de clés",
    "keys.passphrase": "phrase secrète du fichier de clés changée",
    "user.add": "compte créé",
    "user.password": "mot de passe changé",
    "user.disable": "compte désactivé",
    "user.enable": "compte réactivé",
    "user.unlock": "compte déverrouillé",
    "user.locked": "compte verrouillé après des échecs de connexion",
    "user.login": "connexion réussie",
    "web.login": "connexion au tableau de bord",
    "web.login_refused": "connexion refusée",
    "web.logout": "déconnexion du tableau de bord",
    "web.patient_view": "consultation d'un patient",
    "web.recalls_view": "consultation des rappels",
    "web.quarantine_view": "consultation de la quarantaine",
    "web.list_view": "consultation d'une liste de patients",
    "web.patient_search": "recherche de patients (nombre trouvé)",
    "web.letters": "impression de lettres d'invitation",
    "web.letters.patient": "lettre d'invitation imprimée pour un patient",
}


def action_label(action: str) -> str:
    """The French words for `action`, or the code itself when it has none yet."""
    return ACTION_LABELS.get(action, action)


def audit_time(moment: datetime | None) -> str:
    """`15/03/2026 14:05:07`, Paris time, to the second; `?` for an unreadable time."""
    if moment is None:
        return "?"
    return moment.astimezone(PARIS).strftime("%d/%m/%Y %H:%M:%S")


def report_text(report: AuditReport) -> str:
    """`Journal intègre : 1 234 entrées`, or where and why the chain breaks."""
    if report.ok:
        return f"Journal intègre : {number(report.entries)} entrées vérifiées."
    return (
        f"Journal ROMPU à l'entrée n° {report.first_broken} : {report.reason}. "
        "Le journal a été modifié en dehors de fmt-plugin : conservez une copie de la "
        "base et prévenez le médecin."
    )
