"""Working the HL7 quarantine, for the CLI and the dashboard alike: discard, and replay then re-evaluate.

A discarded message is kept whole and encrypted, set aside with who did it and when, and the
audit log records it (ids and a reason code, never what the message says). A replay goes
through the same ingest pipeline as a message received; the patients of the messages it
integrates are evaluated at once, so their statuses do not wait for the nightly run.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime

from fmt_plugin.ingest import ReplayOutcome
from fmt_plugin.installation import Installation
from fmt_plugin.service import installation_ingestor
from fmt_plugin.status_refresh import refresh_statuses
from fmt_plugin.storage import Store

log = logging.getLogger(__name__)

#: The audit action of a discard (the CLI's and the dashboard's).
DISCARD_ACTION = "hl7.discard"
#: Why a message is discarded, as the dashboard asks it: a closed list, so that the audit
#: log (in clear) gets a code and never a sentence that could name the patient.
DISCARD_REASONS = {
    "autre_medecin": "patient d'un autre médecin : le message n'est pas pour le cabinet",
    "doublon": "doublon d'un message déjà intégré",
    "renvoye_corrige": "message erroné, renvoyé corrigé par l'expéditeur",
    "test": "message de test de l'expéditeur",
}


def discard_quarantined(
    store: Store,
    message_ids: Sequence[int],
    *,
    actor: str,
    at: datetime,
    reason: str | None = None,
) -> None:
    """Set quarantined messages aside, audited as `actor`, in one transaction.

    `reason` is a key of DISCARD_REASONS (never free text: the audit log is in clear);
    ValueError for another.
    The caller checks first that each id is waiting in quarantine; the others are left as
    they are.
    """
    detail = "discarded=" + ",".join(map(str, message_ids))
    if reason is not None:
        if reason not in DISCARD_REASONS:
            raise ValueError(f"unknown discard reason: {reason!r}")
        detail += f" reason={reason}"
    with store.transaction():
        store.inbox.discard(
            message_ids, by=actor, at=at.astimezone(UTC).isoformat(timespec="seconds")
        )
        store.audit_in_transaction(actor=actor, action=DISCARD_ACTION, detail=detail)
    log.info("quarantine: message(s) %s discarded", ",".join(map(str, message_ids)))


def replay_quarantined(
    installation: Installation,
    message_ids: Sequence[int],
    *,
    actor: str,
    as_of: date,
) -> list[ReplayOutcome]:
    """Replay the messages (audited by the pipeline), then evaluate the patients integrated.

    Raises KeyError, replaying nothing, for an id that is not in quarantine.
    """
    outcomes = installation_ingestor(installation).replay(message_ids, actor=actor)
    patients = {o.patient_id for o in outcomes if o.accepted and o.patient_id}
    if patients:
        refresh_statuses(installation, patients, as_of)
    return outcomes
