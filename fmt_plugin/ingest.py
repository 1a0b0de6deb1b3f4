"""The per-message pipeline: parse → dedupe → match the patient → commit encrypted → ACK → notify.

Whatever the transport (MLLP, a file import, a quarantine replay), a message goes through
`Ingestor`. A batch of messages is committed in one transaction: the raw message and its events
(or its quarantine record) are durable before any ACK is built, so an ACK never promises a
message the store does not hold. Nothing is dropped: a message that cannot be integrated is
kept, encrypted, in quarantine with its reason, and can be replayed.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import pluggy

from fmt_plugin.adapters.patient_match import StorePatientMatcher, identity_problem
from fmt_plugin.errors import Hl7Error
from fmt_plugin.hl7 import ack
from fmt_plugin.hl7.er7 import Message, parse_message
from fmt_plugin.hl7.extract import MessageContent, extract_content
from fmt_plugin.hl7.reference import parse_with_hl7apy
from fmt_plugin.model import StoredEvent
from fmt_plugin.storage import Store
from fmt_plugin.storage.inbox import ReceivedMessage, Rejection, encode_events
from fmt_plugin.timezone import PARIS

log = logging.getLogger(__name__)

#: Table 0357 codes that reject the message itself (type, event, version): answered AR.
REJECTED_CODES = frozenset({200, 201, 202, 203})
PARSERS: dict[str, Callable[[bytes | str], Message]] = {
    "er7": parse_message,
    "hl7apy": parse_with_hl7apy,
}


class Disposition(StrEnum):
    """What became of one received message."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    QUARANTINED = "quarantined"


@dataclass(frozen=True)
class Incoming:
    """A message to ingest: its original bytes and where it came from."""

    raw: bytes
    channel: str  # "mllp" or "import"
    origin: str = ""  # shown to the practice (file and line, peer); stored encrypted


@dataclass(frozen=True)
class IngestSettings:
    """How the pipeline answers: `[hl7]` settings of the configuration."""

    parser: str = "er7"
    # HL7 says AR for an unsupported version; the ANS examples answer AE.
    unsupported_version_ack: str = "AR"
    practice_authorities: tuple[str, ...] = ()


@dataclass(frozen=True)
class IngestOutcome:
    """The result for one message.

    `ack_code` is the outcome (AA, AE or AR) whatever the mode. `acks` are the ACK payloads
    to send, in order: one in original mode; in enhanced mode the accept ACK and/or the
    application ACK the sender asked for, none if it asked for neither (and none when the
    ingest was not asked to acknowledge).
    """

    disposition: Disposition
    ack_code: str
    control_id: str
    message_id: int | None = None
    patient_id: str | None = None
    events: tuple[StoredEvent, ...] = ()
    rejection: Rejection | None = None
    acks: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class ReplayOutcome:
    """The result of replaying one quarantined message."""

    message_id: int
    accepted: bool
    patient_id: str | None = None
    events: tuple[StoredEvent, ...] = ()
    rejection: Rejection | None = None


@dataclass
class PreparedMessage:
    """A message read as far as it goes before the store is consulted (`Ingestor.prepare`)."""

    incoming: Incoming
    header: ack.AckHeader
    received: ReceivedMessage
    message: Message | None = None
    content: MessageContent | None = None
    rejection: Rejection | None = None
    patient_id: str | None = None
    #: `inbox.encode_events` of the content's events, made with the parsing.
    encoded_events: bytes | None = None


class Ingestor:
    """Runs the pipeline on one open store; not thread-safe (one store connection).

    `clock` gives the current time (UTC-aware); tests pass a fixed one.
    """

    def __init__(
        self,
        store: Store,
        pm: pluggy.PluginManager,
        settings: IngestSettings | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._store = store
        self._pm = pm
        self._settings = settings or IngestSettings()
        self._parse = PARSERS[self._settings.parser]
        self._clock = clock or (lambda: datetime.now(UTC))

    def ingest(
        self, batch: Sequence[Incoming], *, acknowledge: bool = True
    ) -> list[IngestOutcome]:
        """Prepare then commit a batch of messages in one transaction, then build their ACKs.

        Without `acknowledge` (a file import: nobody to answer) no ACK is built. The
        adapters hear of the batch's events once, after the commit. Raises StoreError
        (nothing committed, no ACK may be sent) when the store cannot be written; any other
        exception is a bug and also commits nothing.
        """
        return self.commit(
            [self.prepare(incoming) for incoming in batch], acknowledge=acknowledge
        )

    def prepare(self, incoming: Incoming) -> PreparedMessage:
        """Parse and extract one message: CPU only, the store untouched, on any thread.

        The listener prepares a large message on a thread of its own, so that parsing it
        does not hold up the store thread where every other sender's messages commit.
        """
        return self._prepare(incoming, self._clock())

    def commit(
        self,
        prepared: Sequence[PreparedMessage],
        *,
        acknowledge: bool = True,
        notify: bool = True,
    ) -> list[IngestOutcome]:
        """Commit prepared messages in one transaction, then build their ACKs (see `ingest`).

        Without `notify` the adapters are not told yet: the caller calls `notify_stored`
        with the outcomes, later and on a thread of its choosing.
        """
        outcomes: list[IngestOutcome] = []
        inbox = self._store.inbox
        digests = [inbox.digest(item.incoming.raw) for item in prepared]
        with self._store.transaction():
            inbox.prefetch(digests)
            for item, digest in zip(prepared, digests, strict=True):
                outcomes.append(self._commit(item, digest))
        if acknowledge:
            ack_time = self._clock().astimezone(PARIS)
            outcomes = [
                self._with_ack(item, outcome, ack_time)
                for item, outcome in zip(prepared, outcomes, strict=True)
            ]
        for outcome in outcomes:
            self._log(outcome)
        if notify:
            self.notify_stored(outcomes)
        return outcomes

    @property
    def commits_on_any_thread(self) -> bool:
        """Whether `commit` may run on a thread other than the store's (one at a time).

        It may when the store was opened `cross_thread` and no adapter code runs in
        `prepare` or `commit` (see `runs_adapter_code`): that code might block.
        """
        return self._store.cross_thread and not self.runs_adapter_code

    @property
    def runs_adapter_code(self) -> bool:
        """Whether adapters' code runs in `prepare` or `commit`: a rewrite of the messages
        (`fmt_hl7_received`) or a patient match other than the store's own."""
        hook = self._pm.hook
        impls = [
            *hook.fmt_hl7_received.get_hookimpls(),
            *hook.fmt_match_patient.get_hookimpls(),
        ]
        return any(not isinstance(impl.plugin, StorePatientMatcher) for impl in impls)

    @property
    def has_event_listeners(self) -> bool:
        """Whether an adapter implements `fmt_events_stored` (`notify_stored` has work)."""
        return bool(self._pm.hook.fmt_events_stored.get_hookimpls())

    def notify_stored(self, outcomes: Sequence[IngestOutcome]) -> None:
        """Tell the adapters of the events of committed outcomes, once, in their order."""
        events = [event for outcome in outcomes for event in outcome.events]
        if events:
            self._notify(events)

    def replay(self, message_ids: Sequence[int], *, actor: str) -> list[ReplayOutcome]:
        """Run quarantined messages through the pipeline again, in one transaction.

        A message now integrated leaves the quarantine with its events; one that fails again
        stays with its new reason. Raises KeyError for an id that is not in quarantine.
        """
        at = self._clock().isoformat(timespec="seconds")
        results: list[ReplayOutcome] = []
        inbox = self._store.inbox
        with self._store.transaction():
            for message_id in message_ids:
                record = inbox.get(message_id)
                if record is None or record.state != "quarantined":
                    raise KeyError(message_id)
                incoming = Incoming(inbox.raw(message_id), record.channel)
                item = self._prepare(incoming, self._clock())
                self._match(item)
                if item.rejection is not None:
                    inbox.requarantine(message_id, item.rejection, at)
                    results.append(
                        ReplayOutcome(message_id, False, rejection=item.rejection)
                    )
                    continue
                content, patient_id = _integrable(item)
                events = inbox.accept_replayed(
                    message_id, patient_id, content.events, at
                )
                results.append(
                    ReplayOutcome(message_id, True, patient_id, tuple(events))
                )
            accepted = [str(r.message_id) for r in results if r.accepted]
            self._store.audit_in_transaction(
                actor=actor,
                action="hl7.replay",
                detail=f"replayed={len(results)} accepted={','.join(accepted) or '-'}",
            )
        for result in results:
            log.info(
                "quarantine replay: message %d %s%s",
                result.message_id,
                "accepted for patient " if result.accepted else "still quarantined",
                result.patient_id or "",
            )
            if result.events:
                self._notify(result.events)
        return results

    # --- steps -------------------------------------------------------------------------

    def _prepare(self, incoming: Incoming, now: datetime) -> PreparedMessage:
        """Parse and extract, outside the transaction (CPU only)."""
        try:
            message = self._parse(incoming.raw)
        except Hl7Error as exc:
            header = ack.header_of_raw(incoming.raw)
            return PreparedMessage(
                incoming,
                header,
                self._received(incoming, header, "", now),
                rejection=Rejection(
                    "AR", f"message illisible : {exc}", exc.code, exc.err_location
                ),
            )
        header = ack.header_of(message)
        item = PreparedMessage(
            incoming,
            header,
            self._received(
                incoming,
                header,
                f"{message.message_code}^{message.trigger_event}",
                now,
            ),
            message=message,
        )
        try:
            message = self._rewritten(message, item.received.sender)
            item.message = message
            item.content = extract_content(message)
        except Hl7Error as exc:
            item.rejection = self._rejection(exc)
            return item
        # Here, not in the transaction: for a large message this is the long part.
        item.encoded_events = encode_events(item.content.events)
        return item

    def _rewritten(self, message: Message, sender: str) -> Message:
        """The message after the adapters' `fmt_hl7_received` rewrite, if any."""
        hook = self._pm.hook.fmt_hl7_received
        if not hook.get_hookimpls():  # the common case: no adapter rewrites anything
            return message
        text = hook(message=message.text, sender=sender)
        if text is None or text == message.text:
            return message
        return self._parse(text)

    def _rejection(self, exc: Hl7Error) -> Rejection:
        code = "AR" if exc.code in REJECTED_CODES else "AE"
        if exc.code == 203:
            code = self._settings.unsupported_version_ack
        return Rejection(code, str(exc), exc.code, exc.err_location)

    def _commit(self, item: PreparedMessage, digest: bytes) -> IngestOutcome:
        inbox = self._store.inbox
        received = item.received
        known = inbox.find(received.sender, received.control_id, digest)
        if known is not None:
            inbox.count_duplicate(known.message_id)
            return IngestOutcome(
                Disposition.DUPLICATE,
                known.ack_code,
                received.control_id,
                known.message_id,
                known.patient_id,
                rejection=known.rejection,
            )
        self._match(item)
        if item.rejection is not None:
            message_id = inbox.add_quarantined(received, digest, item.rejection)
            return IngestOutcome(
                Disposition.QUARANTINED,
                item.rejection.ack_code,
                received.control_id,
                message_id,
                rejection=item.rejection,
            )
        content, patient_id = _integrable(item)
        message_id, events = inbox.add_accepted(
            received, digest, patient_id, content.events, item.encoded_events
        )
        return IngestOutcome(
            Disposition.ACCEPTED,
            "AA",
            received.control_id,
            message_id,
            patient_id,
            tuple(events),
        )

    def _match(self, item: PreparedMessage) -> None:
        """Set the patient id, or an AE rejection with the ANS code when there is none."""
        if item.rejection is not None or item.content is None:
            return
        identifiers = item.content.identifiers
        patient_id = self._pm.hook.fmt_match_patient(identifiers=identifiers)
        if patient_id is not None:
            item.patient_id = str(patient_id)
            return
        code, reason = identity_problem(
            identifiers, self._store, self._settings.practice_authorities
        )
        item.rejection = Rejection("AE", reason, 207, "PID^1^3", code)

    def _with_ack(
        self, item: PreparedMessage, outcome: IngestOutcome, now: datetime
    ) -> IngestOutcome:
        # A duplicate is answered from its own header with the first copy's outcome: the
        # same ACK(s) the first copy got, in either mode.
        payloads = ack.build_acks(
            item.header, outcome.ack_code, outcome.rejection, now=now
        )
        return dataclasses.replace(outcome, acks=payloads)

    def _log(self, outcome: IngestOutcome) -> None:
        # MSH-10 and the internal patient id only: the reason names fields, never values.
        if outcome.disposition is Disposition.QUARANTINED:
            assert outcome.rejection is not None  # noqa: S101 -- quarantine has a reason
            log.warning(
                "message %s quarantined (%s): %s",
                outcome.control_id,
                outcome.ack_code,
                outcome.rejection.reason,
            )
        else:
            log.debug(
                "message %s %s (patient %s, %d events)",
                outcome.control_id,
                outcome.disposition.value,
                outcome.patient_id,
                len(outcome.events),
            )

    def _notify(self, events: Sequence[StoredEvent]) -> None:
        """Tell the adapters; their failure must not undo a committed, acknowledged message."""
        try:
            self._pm.hook.fmt_events_stored(events=list(events))
        except Exception as exc:  # noqa: BLE001 -- an adapter's bug is logged, not fatal
            # The type only: an adapter's exception text may quote what it read.
            log.error("an adapter failed in fmt_events_stored: %s", type(exc).__name__)

    def _received(
        self,
        incoming: Incoming,
        header: ack.AckHeader,
        message_type: str,
        now: datetime,
    ) -> ReceivedMessage:
        return ReceivedMessage(
            raw=incoming.raw,
            sender=f"{header.sending_application}^{header.sending_facility}",
            control_id=header.control_id,
            message_type=message_type,
            channel=incoming.channel,
            received_at=now.isoformat(timespec="microseconds"),
            origin=incoming.origin,
        )


def _integrable(item: PreparedMessage) -> tuple[MessageContent, str]:
    """The content and patient of a message that passed every check."""
    if item.content is None or item.patient_id is None:
        raise RuntimeError("message not ready for integration")
    return item.content, item.patient_id
