"""Hand the outbox's due recalls to the channels, each message at most once across crashes.

The order of writes is the guarantee: `sending` is committed before a channel's `send` is
awaited, and `sent` right after it returns. A process that dies in between leaves the message
in `sending`, which `recover_interrupted` turns into `uncertain` at start-up: a person looks
at it, nothing re-sends it. A crash can leave a message for a person to check; it can
never make one go out twice.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from fmt_plugin.errors import ChannelError, StoreError
from fmt_plugin.model import Patient, RecallChannel
from fmt_plugin.recalls.model import PracticeContact, RecallMessage
from fmt_plugin.storage import Store
from fmt_plugin.storage.outbox import OutboxEntry, RecallStateError

log = logging.getLogger(__name__)

#: Doubling stops growing the delay long before this; it only keeps the float finite.
_MAX_EXPONENT = 32


@dataclass(frozen=True)
class RetryPolicy:
    """How temporary failures are retried: exponential backoff with a cap, then `dead`.

    Attempt n failing temporarily waits `base_delay_s · 2^(n-1)`, at most `max_delay_s`;
    a message that has had `max_attempts` attempts is not tried again automatically.
    """

    base_delay_s: float = 300
    max_delay_s: float = 6 * 3600
    max_attempts: int = 6

    def __post_init__(self) -> None:
        if self.base_delay_s <= 0 or self.max_delay_s < self.base_delay_s:
            raise ValueError("retry delays need 0 < base_delay_s <= max_delay_s")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def delay(self, attempts: int) -> timedelta:
        """How long to wait after the `attempts`-th attempt failed temporarily."""
        exponent = min(max(attempts - 1, 0), _MAX_EXPONENT)
        return timedelta(seconds=min(self.base_delay_s * 2**exponent, self.max_delay_s))


class Outcome(StrEnum):
    """What one delivery run did with one due message."""

    SENT = "sent"
    FAILED = "failed"  # temporary failure, retried later
    DEAD = "dead"
    UNCERTAIN = "uncertain"
    SKIPPED = "skipped"  # another run took it meanwhile


@dataclass
class DeliveryReport:
    """How many due messages a `deliver_due` run left in each outcome."""

    sent: int = 0
    failed: int = 0
    dead: int = 0
    uncertain: int = 0
    skipped: int = 0

    def count(self, outcome: Outcome) -> None:
        """Count one message more under `outcome`."""
        setattr(self, outcome.value, getattr(self, outcome.value) + 1)

    @property
    def total(self) -> int:
        """Every due message the run looked at."""
        return self.sent + self.failed + self.dead + self.uncertain + self.skipped


async def deliver_due(
    store: Store,
    channels: Sequence[RecallChannel],
    practice: PracticeContact,
    *,
    now: datetime,
    retry: RetryPolicy,
    stop: threading.Event | None = None,
) -> DeliveryReport:
    """Try every message due at `now` once, through the first channel that can take it.

    When `stop` is set (the service is shutting down), the message being handed over is
    finished and recorded, and the others wait for the next run.

    Channels are tried in the given order, skipping those that cannot reach the patient or
    already rejected this message for good. A message whose patient left the roster or
    now opposes recalls is made dead without being handed over. Each transition is
    committed (and audited) before the next step, so whatever stops this coroutine leaves
    a consistent outbox. Store errors propagate; a channel's exceptions do not, except a
    cancellation or an exit, re-raised once the message is recorded `uncertain`.
    """
    report = DeliveryReport()
    active = set(store.patient_ids(active_only=True))
    for entry in store.outbox.due(now):
        if stop is not None and stop.is_set():
            break
        outcome = await _deliver(store, entry, channels, practice, active, now, retry)
        report.count(outcome)
    return report


def recover_interrupted(store: Store, *, now: datetime) -> list[int]:
    """At start-up, turn every message left in `sending` into `uncertain`; return their ids.

    Such a message was handed to a channel, or about to be, when the process stopped: it
    may have been delivered, so it must not be sent again without a person deciding. Call
    it before any delivery starts, while no other process delivers from this store.
    """
    interrupted = store.outbox.interrupted()
    for recall_id in interrupted:
        store.outbox.mark_uncertain(
            recall_id, reason="envoi interrompu (arrêt du service)", now=now
        )
    return interrupted


async def _deliver(
    store: Store,
    entry: OutboxEntry,
    channels: Sequence[RecallChannel],
    practice: PracticeContact,
    active: Collection[str],
    now: datetime,
    retry: RetryPolicy,
) -> Outcome:
    outbox = store.outbox
    patient = (
        store.get_patient(entry.patient_id) if entry.patient_id in active else None
    )
    if patient is None or patient.opposition:
        reason = (
            "patient inconnu ou sorti de la patientèle"
            if patient is None
            else "le patient s'oppose aux rappels"
        )
        outbox.mark_dead(entry.id, reason=reason, now=now)
        return Outcome.DEAD
    message = _message(store, entry, patient, practice)
    rejected = set(entry.rejected_channels)
    last_rejection = ""
    while (channel := _pick(channels, patient, rejected)) is not None:
        try:
            attempt = outbox.mark_sending(entry.id, channel=channel.name, now=now)
        except RecallStateError:
            # Another delivery run committed a transition first: it owns this message.
            log.info("recall %d: taken by another delivery run", entry.id)
            return Outcome.SKIPPED
        try:
            outcome = await _attempt(store, channel, message, attempt, now, retry)
        except ChannelError as rejection:
            rejected.add(channel.name)
            last_rejection = str(rejection)
            continue
        return outcome
    reason = "aucun canal ne peut joindre ce patient"
    if last_rejection:
        reason += f" ; dernier rejet : {last_rejection}"
    outbox.mark_dead(entry.id, reason=reason, now=now)
    return Outcome.DEAD


async def _attempt(
    store: Store,
    channel: RecallChannel,
    message: RecallMessage,
    attempt: int,
    now: datetime,
    retry: RetryPolicy,
) -> Outcome:
    """Send through `channel` a message already marked `sending`, and record the result.

    Raises the channel's ChannelError, after recording it, when the channel rejected the
    message for good: the caller tries the next channel.
    """
    outbox = store.outbox
    recall_id = message.recall_id
    try:
        await channel.send(message)
    except ChannelError as exc:
        return _failure(store, recall_id, channel.name, exc, attempt, now, retry)
    except Exception as exc:  # noqa: BLE001 -- recorded as uncertain, type logged
        # A channel bug, not a ChannelError: we cannot tell whether the server got the
        # message, so it is treated as possibly delivered. The type only: a vendor's
        # message could quote the address.
        log.error(
            "recall %d: channel %s raised %s",
            recall_id,
            channel.name,
            type(exc).__name__,
        )
        reason = f"erreur inattendue du canal ({type(exc).__name__})"
        outbox.mark_uncertain(recall_id, reason=reason, now=now)
        return Outcome.UNCERTAIN
    except BaseException:
        # Cancelled or interrupted mid-send: the message may be out. Record that now if
        # the store still answers; otherwise start-up's recover_interrupted will.
        with contextlib.suppress(StoreError):
            outbox.mark_uncertain(recall_id, reason="envoi interrompu", now=now)
        raise
    outbox.mark_sent(recall_id, now=now)
    return Outcome.SENT


def _message(
    store: Store, entry: OutboxEntry, patient: Patient, practice: PracticeContact
) -> RecallMessage:
    content = store.outbox.content(entry.id)
    return RecallMessage(
        recall_id=entry.id,
        message_id=entry.message_id,
        patient=patient,
        audience=content.audience,
        items=content.items,
        practice=practice,
        created_at=entry.created_at,
    )


def _pick(
    channels: Sequence[RecallChannel], patient: Patient, rejected: Collection[str]
) -> RecallChannel | None:
    """The first channel that has not rejected this message and can reach the patient."""
    for channel in channels:
        if channel.name not in rejected and channel.can_reach(patient):
            return channel
    return None


def _failure(
    store: Store,
    recall_id: int,
    channel: str,
    exc: ChannelError,
    attempt: int,
    now: datetime,
    retry: RetryPolicy,
) -> Outcome:
    """Record a channel's failure; re-raise `exc` when the next channel should be tried.

    Decided on the error's flags rather than its class, so a vendor's own ChannelError
    subclass is handled by what it says.
    """
    outbox = store.outbox
    reason = str(exc)
    if exc.uncertain:
        outbox.mark_uncertain(recall_id, reason=reason, now=now)
        return Outcome.UNCERTAIN
    if not exc.temporary:
        outbox.mark_rejected(recall_id, channel=channel, error=reason, now=now)
        raise exc
    if attempt >= retry.max_attempts:
        reason += f" ; abandon après {attempt} tentatives"
        outbox.mark_dead(recall_id, reason=reason, now=now)
        return Outcome.DEAD
    next_attempt_at = now + retry.delay(attempt)
    outbox.mark_failed(
        recall_id, next_attempt_at=next_attempt_at, error=reason, now=now
    )
    return Outcome.FAILED
