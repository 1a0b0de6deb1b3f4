"""The encrypted HL7 inbox: received messages, their quarantine, and the clinical events they carried.

Runs inside the caller's write transaction (`Store.transaction()`), so a message and its events
(one ciphertext in the message's row) commit together, before the message is acknowledged.
Which version of an observation is current is worked out where events are read. Writes are
collected during the transaction and flushed in a few `executemany` statements just before the
commit (a bulk import adds thousands of rows per transaction). Raw messages, events and
origins are AES-256-GCM ciphertext bound to their row; content is findable only through the
message digest's HMAC blind index.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fmt_plugin.clinical import (
    ClinicalEvent,
    EventAction,
    EventState,
    StoredClinicalEvent,
)
from fmt_plugin.errors import DecryptionError, StoreError
from fmt_plugin.model import StoredEvent
from fmt_plugin.storage.crypto import FieldCipher

MESSAGES = "hl7_messages"
EVENTS = "clinical_events"
#: The field (AAD) of a message's events, in `hl7_messages`.
EVENTS_FIELD = "events"
#: The key of the event-id counter in `_last_ids`.
EVENT_IDS = "event_id"
_PACKED_COLUMNS = "message_id, patient_id, first_event_id, events"
DIGEST_KIND = "hl7-message"


@dataclass(frozen=True)
class ReceivedMessage:
    """One message as it arrived, with what is known before parsing its content.

    `raw` are the original bytes (kept verbatim); `origin` says where it came from for the
    practice's eyes (a file and line, a peer address) and is stored encrypted, since a file
    name may name a patient.
    """

    raw: bytes
    sender: str
    control_id: str
    message_type: str
    channel: str  # "mllp" or "import"
    received_at: str
    origin: str = ""


@dataclass(frozen=True)
class Rejection:
    """Why a message was not integrated: its ACK code and the ERR content (no health data)."""

    ack_code: str  # "AE" or "AR"
    reason: str
    error_code: int = 207
    error_location: str = ""
    application_error: str = ""  # e.g. ANS "902" (unknown patient)


@dataclass(frozen=True)
class MessageRecord:
    """A stored message's clear columns: enough to answer a resent copy the same way."""

    message_id: int
    sender: str
    control_id: str
    message_type: str
    channel: str
    received_at: str
    state: str
    ack_code: str
    error_code: int | None
    error_location: str
    application_error: str
    reason: str
    patient_id: str | None
    replayed_at: str | None
    duplicates: int
    #: Set when the practice discarded a quarantined message (it stays 'quarantined').
    discarded_at: str | None = None
    discarded_by: str | None = None

    @property
    def discarded(self) -> bool:
        """True for a quarantined message the practice set aside as junk."""
        return self.discarded_at is not None

    @property
    def rejection(self) -> Rejection | None:
        """The stored rejection of a quarantined message, None for an accepted one."""
        if self.state != "quarantined":
            return None
        return Rejection(
            ack_code=self.ack_code,
            reason=self.reason,
            error_code=self.error_code or 207,
            error_location=self.error_location,
            application_error=self.application_error,
        )


_RECORD_COLUMNS = (
    "message_id, sender, control_id, message_type, channel, received_at, state,"
    " ack_code, error_code, error_location, application_error, reason, patient_id,"
    " replayed_at, duplicates, discarded_at, discarded_by"
)
# A discarded message keeps its state: it is counted apart from those still waiting.
_STATE_COUNTED = (
    "CASE WHEN state = 'quarantined' AND discarded_at IS NOT NULL"
    " THEN 'discarded' ELSE state END"
)


class Hl7Inbox:
    """Typed reads and writes of HL7 messages and clinical events on one store connection."""

    def __init__(self, conn: sqlite3.Connection, cipher: FieldCipher) -> None:
        self._conn = conn
        self._cipher = cipher
        self._last_ids: dict[str, int] = {}
        # Writes of the current transaction, flushed together by `flush()`.
        self._pending_messages: list[tuple[Any, ...]] = []
        self._pending_records: dict[tuple[bytes, str, str], MessageRecord] = {}
        self._pending_duplicates: Counter[int] = Counter()
        self._prefetched_digests: set[bytes] = set()
        self._prefetched: dict[tuple[bytes, str, str], MessageRecord] = {}

    def __repr__(self) -> str:
        return "<Hl7Inbox>"

    # --- messages ----------------------------------------------------------------------

    def digest(self, raw: bytes) -> bytes:
        """The blind index of a message's content, blind to its line endings.

        A message read from a file (`\\n`) and the same message over MLLP (`\\r`) are the
        same message.
        """
        return self._cipher.blind_index_bytes(DIGEST_KIND, normalized_content(raw))

    def find(self, sender: str, control_id: str, digest: bytes) -> MessageRecord | None:
        """The stored message with this sender, MSH-10 and content, if any.

        Sees the messages added earlier in the same transaction too.
        """
        pending = self._pending_records.get((digest, sender, control_id))
        if pending is not None:
            return pending
        if digest in self._prefetched_digests:
            return self._prefetched.get((digest, sender, control_id))
        row = self._conn.execute(
            f"SELECT {_RECORD_COLUMNS} FROM hl7_messages"  # noqa: S608 -- constant columns
            " WHERE digest = ? AND sender = ? AND control_id = ?",
            (digest, sender, control_id),
        ).fetchone()
        return None if row is None else _record(row)

    def prefetch(self, digests: Sequence[bytes]) -> None:
        """Look up many digests in one query, so `find` needs none for them (bulk import)."""
        unique = list(dict.fromkeys(digests))
        if not unique:
            return
        marks = ", ".join("?" * len(unique))
        rows = self._conn.execute(
            f"SELECT {_RECORD_COLUMNS}, digest FROM hl7_messages"  # noqa: S608 -- marks only
            f" WHERE digest IN ({marks})",
            unique,
        ).fetchall()
        self._prefetched_digests.update(unique)
        for row in rows:
            record = _record(row[:-1])
            self._prefetched[(row[-1], record.sender, record.control_id)] = record

    def get(self, message_id: int) -> MessageRecord | None:
        """The stored message with this id, if any."""
        row = self._conn.execute(
            f"SELECT {_RECORD_COLUMNS} FROM hl7_messages"  # noqa: S608 -- constant columns
            " WHERE message_id = ?",
            (message_id,),
        ).fetchone()
        return None if row is None else _record(row)

    def count_duplicate(self, message_id: int) -> None:
        """Count one more copy of a stored message (it is not stored again)."""
        self._pending_duplicates[message_id] += 1

    def add_accepted(
        self,
        message: ReceivedMessage,
        digest: bytes,
        patient_id: str,
        events: Sequence[ClinicalEvent],
        encoded: bytes | None = None,
    ) -> tuple[int, list[StoredEvent]]:
        """Store an integrated message and its events; return its id and the events stored.

        `encoded`, when given, is `encode_events(events)`, made before the transaction.
        """
        message_id = self._next_id("message_id", MESSAGES)
        packed, stored = self._pack_events(message_id, patient_id, events, encoded)
        self._insert_message(message, digest, None, patient_id, message_id, packed)
        return message_id, stored

    def add_quarantined(
        self, message: ReceivedMessage, digest: bytes, rejection: Rejection
    ) -> int:
        """Store a message that could not be integrated, with why; return its id."""
        return self._insert_message(message, digest, rejection, None)

    def accept_replayed(
        self,
        message_id: int,
        patient_id: str,
        events: Sequence[ClinicalEvent],
        at: str,
    ) -> list[StoredEvent]:
        """Integrate a quarantined message on replay: its events are stored now."""
        packed, stored = self._pack_events(message_id, patient_id, events)
        # An integrated message is no longer discarded: the audit log keeps that it was.
        self._conn.execute(
            "UPDATE hl7_messages SET state = 'accepted', ack_code = 'AA',"
            " error_code = NULL, error_location = NULL, application_error = NULL,"
            " reason = NULL, patient_id = ?, replayed_at = ?, discarded_at = NULL,"
            " discarded_by = NULL, first_event_id = ?, event_count = ?, events = ?"
            " WHERE message_id = ?",
            (patient_id, at, *packed, message_id),
        )
        return stored

    def requarantine(self, message_id: int, rejection: Rejection, at: str) -> None:
        """Record that a replay failed again, with the new reason."""
        self._conn.execute(
            "UPDATE hl7_messages SET ack_code = ?, error_code = ?, error_location = ?,"
            " application_error = ?, reason = ?, replayed_at = ? WHERE message_id = ?",
            (
                rejection.ack_code,
                rejection.error_code,
                rejection.error_location,
                rejection.application_error,
                rejection.reason,
                at,
                message_id,
            ),
        )

    def quarantined(self) -> list[MessageRecord]:
        """The messages waiting in quarantine (not discarded), oldest first."""
        rows = self._conn.execute(
            f"SELECT {_RECORD_COLUMNS} FROM hl7_messages"  # noqa: S608 -- constant columns
            " WHERE state = 'quarantined' AND discarded_at IS NULL ORDER BY message_id"
        ).fetchall()
        return [_record(row) for row in rows]

    def discarded(self) -> list[MessageRecord]:
        """The quarantined messages the practice discarded, oldest first."""
        rows = self._conn.execute(
            f"SELECT {_RECORD_COLUMNS} FROM hl7_messages"  # noqa: S608 -- constant columns
            " WHERE state = 'quarantined' AND discarded_at IS NOT NULL"
            " ORDER BY message_id"
        ).fetchall()
        return [_record(row) for row in rows]

    def discard(self, message_ids: Sequence[int], *, by: str, at: str) -> None:
        """Set quarantined messages aside as junk, inside the caller's transaction.

        They are kept (raw, encrypted) and can still be replayed by id; ids that are not
        waiting in quarantine are left as they are (the caller checks them first).
        """
        self._conn.executemany(
            "UPDATE hl7_messages SET discarded_at = ?, discarded_by = ?"
            " WHERE message_id = ? AND state = 'quarantined' AND discarded_at IS NULL",
            [(at, by, message_id) for message_id in message_ids],
        )

    def raw(self, message_id: int) -> bytes:
        """The original bytes of a stored message; KeyError if there is none."""
        row = self._conn.execute(
            "SELECT raw FROM hl7_messages WHERE message_id = ?", (message_id,)
        ).fetchone()
        if row is None:
            raise KeyError(message_id)
        return self._decrypt(row[0], MESSAGES, str(message_id), "raw")

    def origin(self, message_id: int) -> str:
        """Where a stored message came from ("" when not recorded)."""
        row = self._conn.execute(
            "SELECT origin FROM hl7_messages WHERE message_id = ?", (message_id,)
        ).fetchone()
        if row is None or row[0] is None:
            return ""
        return self._decrypt(row[0], MESSAGES, str(message_id), "origin").decode()

    def counts(self) -> dict[str, int]:
        """Messages by state, plus the duplicates received (for status pages).

        "quarantined" counts the messages still waiting; the discarded ones are apart.
        """
        found = {"accepted": 0, "quarantined": 0, "discarded": 0, "duplicates": 0}
        for state, count, duplicates in self._conn.execute(
            f"SELECT {_STATE_COUNTED}, count(*), coalesce(sum(duplicates), 0)"  # noqa: S608 -- constant
            " FROM hl7_messages GROUP BY 1"
        ):
            found[state] = count
            found["duplicates"] += duplicates
        return found

    def counts_received(self, start: datetime, end: datetime) -> dict[str, int]:
        """Messages first received in [start, end), by state (aware datetimes).

        "quarantined" counts those still waiting; the discarded ones are apart.
        """
        found = {"accepted": 0, "quarantined": 0, "discarded": 0}
        for state, count in self._conn.execute(
            f"SELECT {_STATE_COUNTED}, count(*) FROM hl7_messages"  # noqa: S608 -- constant
            " WHERE received_at >= ? AND received_at < ? GROUP BY 1",
            (_utc_text(start), _utc_text(end)),
        ):
            found[state] = count
        return found

    # --- events ------------------------------------------------------------------------

    def events_of(self, patient_id: str) -> list[StoredClinicalEvent]:
        """The patient's current events (neither superseded nor withdrawn), oldest first."""
        return _current(self._resolved_of_patient("?", (patient_id,)))

    def current_events_by_patient(self) -> dict[str, list[StoredClinicalEvent]]:
        """Every current event, grouped by patient id (one pass for a whole practice)."""
        rows = self._conn.execute(
            f"SELECT {_PACKED_COLUMNS} FROM hl7_messages"  # noqa: S608 -- constant
            " WHERE first_event_id IS NOT NULL ORDER BY first_event_id"
        ).fetchall()
        grouped: dict[str, list[StoredClinicalEvent]] = {}
        for stored in _current(_resolved(self._unpacked(rows))):
            grouped.setdefault(stored.patient_id, []).append(stored)
        return grouped

    def events_of_message(self, message_id: int) -> list[StoredClinicalEvent]:
        """Every event a message brought, with its state now (read among its patient's)."""
        patient = "(SELECT patient_id FROM hl7_messages WHERE message_id = ?)"
        events = self._resolved_of_patient(patient, (message_id,))
        return [e for e in events if e.message_id == message_id]

    def event_count(self) -> int:
        """How many events the stored messages brought, whatever their state."""
        row = self._conn.execute(
            "SELECT coalesce(sum(event_count), 0) FROM hl7_messages"
        ).fetchone()
        return int(row[0])

    def pack_legacy_events(self) -> int:
        """Move the rows of `clinical_events` (stores before schema 13) into their message.

        Runs inside the caller's transaction; returns how many events moved. Each message's
        events keep their ids, which earlier versions numbered one after the other.
        """
        rows = self._conn.execute(
            "SELECT event_id, message_id, patient_id, state, payload"
            " FROM clinical_events ORDER BY event_id"
        ).fetchall()
        by_message: dict[int, list[StoredClinicalEvent]] = {}
        for row in rows:
            stored = self._legacy_event(row)
            by_message.setdefault(stored.message_id, []).append(stored)
        for message_id, stored_events in by_message.items():
            self._repack(message_id, stored_events)
        self._conn.execute("DELETE FROM clinical_events")
        return len(rows)

    # --- internals ---------------------------------------------------------------------

    def _insert_message(
        self,
        message: ReceivedMessage,
        digest: bytes,
        rejection: Rejection | None,
        patient_id: str | None,
        message_id: int | None = None,
        packed: tuple[int | None, int, bytes | None] = (None, 0, None),
    ) -> int:
        if message_id is None:
            message_id = self._next_id("message_id", MESSAGES)
        record_id = str(message_id)
        origin = (
            self._cipher.encrypt(
                message.origin.encode(),
                table=MESSAGES,
                record_id=record_id,
                field="origin",
            )
            if message.origin
            else None
        )
        raw = self._cipher.encrypt(
            message.raw, table=MESSAGES, record_id=record_id, field="raw"
        )
        record = MessageRecord(
            message_id=message_id,
            sender=message.sender,
            control_id=message.control_id,
            message_type=message.message_type,
            channel=message.channel,
            received_at=message.received_at,
            state="accepted" if rejection is None else "quarantined",
            ack_code="AA" if rejection is None else rejection.ack_code,
            error_code=None if rejection is None else rejection.error_code,
            error_location="" if rejection is None else rejection.error_location,
            application_error="" if rejection is None else rejection.application_error,
            reason="" if rejection is None else rejection.reason,
            patient_id=patient_id,
            replayed_at=None,
            duplicates=0,
        )
        self._pending_records[(digest, message.sender, message.control_id)] = record
        self._pending_messages.append(
            (
                message_id,
                message.sender,
                message.control_id,
                digest,
                message.message_type,
                message.channel,
                message.received_at,
                record.state,
                record.ack_code,
                record.error_code,
                record.error_location or None,
                record.application_error or None,
                record.reason or None,
                patient_id,
                origin,
                raw,
                *packed,
            )
        )
        return message_id

    def _pack_events(
        self,
        message_id: int,
        patient_id: str,
        events: Sequence[ClinicalEvent],
        encoded: bytes | None = None,
    ) -> tuple[tuple[int | None, int, bytes | None], list[StoredEvent]]:
        """The message's events as its three columns, and as the events stored.

        `encoded` is `encode_events(events)` made beforehand, off the store's thread.
        """
        if not events:
            return (None, 0, None), []
        first = self._next_event_ids(len(events))
        packed = self._encrypt_events(
            message_id,
            patient_id,
            first,
            encoded if encoded is not None else encode_events(events),
        )
        stored = [
            StoredEvent(first + index, patient_id, event.kind)
            for index, event in enumerate(events)
        ]
        return (first, len(events), packed), stored

    def _repack(self, message_id: int, legacy: list[StoredClinicalEvent]) -> None:
        first = legacy[0].event_id
        if [e.event_id for e in legacy] != list(range(first, first + len(legacy))):
            raise StoreError(
                f"message n° {message_id} : numéros d'événements non consécutifs,"
                " migration impossible"
            )
        packed = self._encrypt_events(
            message_id,
            legacy[0].patient_id,
            first,
            encode_events([e.event for e in legacy]),
        )
        self._conn.execute(
            "UPDATE hl7_messages SET first_event_id = ?, event_count = ?, events = ?"
            " WHERE message_id = ?",
            (first, len(legacy), packed, message_id),
        )

    def _encrypt_events(
        self, message_id: int, patient_id: str, first_event_id: int, plain: bytes
    ) -> bytes:
        return self._cipher.encrypt(
            plain,
            table=MESSAGES,
            record_id=_events_record_id(message_id, patient_id, first_event_id),
            field=EVENTS_FIELD,
        )

    def _next_event_ids(self, count: int) -> int:
        """The first of `count` new consecutive event ids (under the write lock).

        `clinical_events` need not be looked at: `Store.open` has moved its rows, ids
        included, into their messages before anything is written.
        """
        last = self._last_ids.get(EVENT_IDS)
        if last is None:
            row = self._conn.execute(
                "SELECT first_event_id + event_count - 1 FROM hl7_messages"
                " WHERE first_event_id IS NOT NULL ORDER BY first_event_id DESC LIMIT 1"
            ).fetchone()
            last = int(row[0]) if row else 0
        self._last_ids[EVENT_IDS] = last + count
        return last + 1

    def flush(self) -> None:
        """Write what this transaction added, in a few statements (before the commit)."""
        if self._pending_messages:
            self._conn.executemany(
                "INSERT INTO hl7_messages (message_id, sender, control_id, digest,"
                " message_type, channel, received_at, state, ack_code, error_code,"
                " error_location, application_error, reason, patient_id, origin, raw,"
                " first_event_id, event_count, events)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                self._pending_messages,
            )
        if self._pending_duplicates:
            self._conn.executemany(
                "UPDATE hl7_messages SET duplicates = duplicates + ?"
                " WHERE message_id = ?",
                [(n, i) for i, n in self._pending_duplicates.items()],
            )

    def reset(self) -> None:
        """Forget a finished transaction: pending writes, counted ids, prefetched digests."""
        self._last_ids.clear()
        self._pending_messages.clear()
        self._pending_records.clear()
        self._pending_duplicates.clear()
        self._prefetched_digests.clear()
        self._prefetched.clear()

    def _next_id(self, column: str, table: str) -> int:
        # The id is chosen before the insert because it is part of the ciphertext's AAD;
        # BEGIN IMMEDIATE holds the write lock, so no other writer can take it meanwhile.
        # Within a transaction ids are counted here rather than asked of SQLite each time.
        last = self._last_ids.get(table)
        if last is None:
            row = self._conn.execute(
                f"SELECT coalesce(max({column}), 0) FROM {table}"  # noqa: S608 -- constants
            ).fetchone()
            last = int(row[0])
        self._last_ids[table] = last + 1
        return last + 1

    def _resolved_of_patient(
        self, patient: str, params: tuple[Any, ...]
    ) -> list[StoredClinicalEvent]:
        """Every event of one patient with its state; `patient` is the SQL naming them."""
        rows = self._conn.execute(
            f"SELECT {_PACKED_COLUMNS} FROM hl7_messages"  # noqa: S608 -- our SQL only
            f" WHERE patient_id = {patient} AND first_event_id IS NOT NULL"
            " ORDER BY first_event_id",
            params,
        ).fetchall()
        return _resolved(self._unpacked(rows))

    def _unpacked(self, rows: Iterable[tuple[Any, ...]]) -> Iterator[_Packed]:
        for message_id, patient_id, first, value in rows:
            plain = self._decrypt(
                value,
                MESSAGES,
                _events_record_id(message_id, patient_id, first),
                EVENTS_FIELD,
            )
            try:
                events = [
                    ClinicalEvent.from_dict(item)
                    for item in json.loads(plain.decode("utf-8"))
                ]
            except (UnicodeDecodeError, ValueError, TypeError, KeyError):
                # Authenticated yet unreadable: written by a bug, reported like any bad value.
                raise DecryptionError() from None
            yield _Packed(int(message_id), str(patient_id), int(first), events)

    def _legacy_event(self, row: tuple[Any, ...]) -> StoredClinicalEvent:
        event_id, message_id, patient_id, state, payload = row
        if not isinstance(payload, bytes):
            raise DecryptionError()
        plain = self._decrypt(
            payload, EVENTS, _event_record_id(event_id, patient_id), "payload"
        )
        try:
            event = ClinicalEvent.from_dict(json.loads(plain.decode("utf-8")))
        except (UnicodeDecodeError, ValueError, TypeError, KeyError):
            # Authenticated yet unreadable: written by a bug, reported like any bad value.
            raise DecryptionError() from None
        return StoredClinicalEvent(
            event_id, message_id, str(patient_id), EventState(state), event
        )

    def _decrypt(self, value: object, table: str, record_id: str, field: str) -> bytes:
        if not isinstance(value, bytes):
            raise DecryptionError()
        return self._cipher.decrypt(
            value, table=table, record_id=record_id, field=field
        )


def encode_events(events: Sequence[ClinicalEvent]) -> bytes:
    """The plaintext of a message's events (JSON), before it is encrypted into its row."""
    return json.dumps(
        [event.to_dict() for event in events], sort_keys=True, ensure_ascii=False
    ).encode("utf-8")


def normalized_content(raw: bytes) -> bytes:
    """The message with `\\r` segment separators, no BOM and no trailing blank lines."""
    text = raw.removeprefix(b"\xef\xbb\xbf")
    text = text.replace(b"\r\n", b"\r").replace(b"\n", b"\r")
    return text.strip(b"\r\t ")


def _event_record_id(event_id: int, patient_id: str) -> str:
    """The AAD record id of a legacy event row: the row and its patient."""
    return f"{event_id:d}/{patient_id}"


def _events_record_id(message_id: int, patient_id: str, first_event_id: int) -> str:
    """The AAD record id of a message's events: the message, its patient, its first id.

    Moving the ciphertext to another message or patient, or renumbering its events in the
    clear column, makes it fail to decrypt.
    """
    return f"{message_id:d}/{patient_id}/{first_event_id:d}"


@dataclass(frozen=True)
class _Packed:
    """One message's events, decrypted, in segment order."""

    message_id: int
    patient_id: str
    first_event_id: int
    events: list[ClinicalEvent]


def _resolved(messages: Iterable[_Packed]) -> list[StoredClinicalEvent]:
    """Every event with its state, from messages given in event-id order.

    The latest version of an observation (same patient, kind and identity) is current,
    earlier ones superseded; a withdrawal retracts the version before it and is withdrawn
    itself. This is what earlier versions wrote with an UPDATE at each commit.
    """
    events: list[tuple[int, int, str, ClinicalEvent]] = [
        (packed.first_event_id + index, packed.message_id, packed.patient_id, event)
        for packed in messages
        for index, event in enumerate(packed.events)
    ]
    following: dict[tuple[str, ...], ClinicalEvent] = {}
    resolved: list[StoredClinicalEvent] = []
    for event_id, message_id, patient_id, event in reversed(events):
        key = (patient_id, event.kind.value, *event.identity)
        state = _state(event, following.get(key))
        following[key] = event
        resolved.append(
            StoredClinicalEvent(event_id, message_id, patient_id, state, event)
        )
    resolved.reverse()
    return resolved


def _state(event: ClinicalEvent, next_version: ClinicalEvent | None) -> EventState:
    if event.action is EventAction.WITHDRAW:
        return EventState.WITHDRAWN
    if next_version is None:
        return EventState.CURRENT
    if next_version.action is EventAction.WITHDRAW:
        return EventState.WITHDRAWN
    return EventState.SUPERSEDED


def _current(events: Iterable[StoredClinicalEvent]) -> list[StoredClinicalEvent]:
    return [e for e in events if e.state is EventState.CURRENT]


def _record(row: tuple[Any, ...]) -> MessageRecord:
    (
        message_id,
        sender,
        control_id,
        message_type,
        channel,
        received_at,
        state,
        ack_code,
        error_code,
        error_location,
        application_error,
        reason,
        patient_id,
        replayed_at,
        duplicates,
        discarded_at,
        discarded_by,
    ) = row
    return MessageRecord(
        message_id=int(message_id),
        sender=str(sender),
        control_id=str(control_id),
        message_type=str(message_type),
        channel=str(channel),
        received_at=str(received_at),
        state=str(state),
        ack_code=str(ack_code),
        error_code=None if error_code is None else int(error_code),
        error_location=error_location or "",
        application_error=application_error or "",
        reason=reason or "",
        patient_id=patient_id,
        replayed_at=replayed_at,
        duplicates=int(duplicates),
        discarded_at=discarded_at,
        discarded_by=discarded_by,
    )


def _utc_text(moment: datetime) -> str:
    """`moment` the way `received_at` is written (UTC, ISO 8601), so text order is time order."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")
