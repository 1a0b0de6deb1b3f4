"""The encrypted recall outbox: recall messages, the identities of their items, and their states.

A recall item's identity (patient, indicator, cycle, step) is recorded once, as an HMAC blind
index, so planning the same recall twice creates nothing. A message's content (audience and
items) is AES-256-GCM ciphertext bound to its row; only ids, states, channel names, counters,
dates and an error reason without patient data are in clear. Every method that writes commits
its own transaction, state check and audit entry included: delivery depends on `sending`
being on disk before a message is handed over, so these methods refuse to run inside a
caller's open transaction (StoreError).

States move as follows (each method lists the states it accepts and raises RecallStateError,
writing nothing, from any other)::

    planned | failed            ──mark_sending──▶   sending
    sending                     ──mark_sent──▶      sent
    sending                     ──mark_failed──▶    failed     (due again later)
    sending                     ──mark_rejected──▶  planned    (not that channel again)
    sending                     ──mark_uncertain──▶ uncertain  (a person decides)
    planned | sending | failed  ──mark_dead──▶      dead
    failed | dead | uncertain   ──retry──▶          planned    (asked by a person)
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import sqlite3
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from fmt_plugin.errors import DecryptionError, StoreError
from fmt_plugin.recalls.model import (
    Audience,
    DueItem,
    PastRecall,
    PlannedRecall,
    RecallKey,
    RecallState,
)
from fmt_plugin.rules.model import Status
from fmt_plugin.storage.audit import AuditLog
from fmt_plugin.storage.crypto import FieldCipher
from fmt_plugin.timezone import PARIS

log = logging.getLogger(__name__)

MESSAGES = "recall_messages"
CONTENT = "content"
ITEM_KEY_KIND = "recall-item"
CONTENT_VERSION = 1
#: Who the audit names for the transitions the service makes by itself.
SYSTEM_ACTOR = "service:recalls"
#: Longest error reason kept; a channel's reason is a line, not a transcript.
MAX_ERROR_CHARS = 500

_KEY_SEPARATOR = "\x1f"  # ASCII unit separator: in no indicator id, cycle or patient id
_DOMAIN_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
_COLUMNS = (
    "recall_id, patient_id, state, channel, rejected_channels, attempts,"
    " next_attempt_at, created_at, sent_at, last_error, message_id, content"
)


class RecallStateError(StoreError):
    """A transition the outbox does not allow from the recall's current state."""

    def __init__(
        self, recall_id: int, current: RecallState, target: RecallState
    ) -> None:
        self.recall_id = recall_id
        self.current = current
        self.target = target
        super().__init__(
            f"rappel n° {recall_id} : passage de l'état « {current} »"
            f" à l'état « {target} » impossible"
        )


@dataclass(frozen=True)
class OutboxEntry:
    """One recall message's delivery record, as the delivery, the CLI and status pages see it.

    `channel` is the channel of the latest attempt; `rejected_channels` those that rejected
    this message for good. `indicators` (the items' indicator ids) are health data: not in
    `repr`.
    """

    id: int
    patient_id: str
    state: RecallState
    channel: str | None
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    sent_at: datetime | None
    last_error: str | None
    message_id: str
    indicators: tuple[str, ...] = field(repr=False)
    rejected_channels: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Current:
    """What a transition reads of its row, under the write lock."""

    state: RecallState
    patient_id: str
    attempts: int
    rejected_channels: tuple[str, ...]


_Updates = Callable[[_Current], Mapping[str, object]]


class RecallOutbox:
    """Typed reads, writes and state transitions of recall messages on one store connection."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        cipher: FieldCipher,
        audit: AuditLog,
        write: Callable[[], AbstractContextManager[None]],
    ) -> None:
        """Use the store's connection, cipher and audit chain; `write` opens its transaction."""
        self._conn = conn
        self._cipher = cipher
        self._audit = audit
        self._write = write

    def __repr__(self) -> str:
        return "<RecallOutbox>"

    # --- planning ----------------------------------------------------------------------

    def add_planned(
        self,
        recalls: Sequence[PlannedRecall],
        *,
        now: datetime,
        message_id_domain: str,
        actor: str = SYSTEM_ACTOR,
    ) -> list[int]:
        """Record the planner's recalls as `planned` messages, in one transaction.

        Items whose identity is already in the outbox (or earlier in `recalls`) are left
        out; a recall left with no item creates no message. Returns the new recall ids, in
        the order of `recalls`. Each message is audited with its id and item count only.
        Raises StoreError, writing nothing, for a patient the store does not know, and
        ValueError for a naive `now` or a domain unfit for a Message-ID.
        """
        if not _DOMAIN_RE.fullmatch(message_id_domain):
            raise ValueError("message_id_domain must be a plain domain name")
        stamp = _iso(now)
        created: list[int] = []
        with self._write():
            seen: set[bytes] = set()
            for recall in recalls:
                fresh = self._fresh_items(recall, seen) if recall.items else []
                if fresh:
                    created.append(
                        self._insert(recall, fresh, stamp, message_id_domain, actor)
                    )
        for recall_id in created:
            log.info("recall %d: %s", recall_id, RecallState.PLANNED)
        return created

    def _fresh_items(
        self, recall: PlannedRecall, seen: set[bytes]
    ) -> list[tuple[DueItem, bytes]]:
        """The recall's items not yet in the outbox, with their identity keys; marks them seen."""
        identities = recall.keys()
        keys = [self._item_key(identity) for identity in identities]
        marks = ", ".join("?" * len(keys))
        known = {
            row[0]
            for row in self._conn.execute(
                f"SELECT item_key FROM recall_items WHERE item_key IN ({marks})",  # noqa: S608 -- marks only
                keys,
            )
        }
        fresh = []
        for item, key in zip(recall.items, keys, strict=True):
            if key not in known and key not in seen:
                seen.add(key)
                fresh.append((item, key))
        return fresh

    def _insert(
        self,
        recall: PlannedRecall,
        items: Sequence[tuple[DueItem, bytes]],
        stamp: str,
        domain: str,
        actor: str,
    ) -> int:
        patient_id = recall.patient_id
        known = self._conn.execute(
            "SELECT 1 FROM patients WHERE patient_id = ?", (patient_id,)
        ).fetchone()
        if known is None:
            raise StoreError(f"patient inconnu : {patient_id} ; rappel non enregistré")
        # The id is part of the AAD, so it is chosen before the insert; the write lock is
        # held and rows are never deleted, so MAX + 1 is what SQLite would choose.
        recall_id = int(
            self._conn.execute(
                "SELECT coalesce(max(recall_id), 0) + 1 FROM recall_messages"
            ).fetchone()[0]
        )
        kept = PlannedRecall(patient_id, recall.audience, tuple(i for i, _ in items))
        self._conn.execute(
            "INSERT INTO recall_messages (recall_id, patient_id, state, attempts,"
            " created_at, updated_at, message_id, content)"
            " VALUES (?, ?, 'planned', 0, ?, ?, ?, ?)",
            (
                recall_id,
                patient_id,
                stamp,
                stamp,
                _message_id(recall_id, domain),
                self._encrypt_content(kept, recall_id),
            ),
        )
        self._conn.executemany(
            "INSERT INTO recall_items (recall_id, patient_id, item_key) VALUES (?, ?, ?)",
            [(recall_id, patient_id, key) for _, key in items],
        )
        self._audit.append(
            actor=actor,
            action="recall.plan",
            target=patient_id,
            detail=f"recall_id={recall_id} to=planned items={len(items)}",
        )
        return recall_id

    # --- reads -------------------------------------------------------------------------

    def get(self, recall_id: int) -> OutboxEntry | None:
        """The recall message with this id, None if there is none."""
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM recall_messages WHERE recall_id = ?",  # noqa: S608 -- constant columns
            (recall_id,),
        ).fetchone()
        return None if row is None else self._entry(row)

    def entries(self, state: RecallState | None = None) -> list[OutboxEntry]:
        """Every recall message (or those in `state`), oldest first."""
        sql = f"SELECT {_COLUMNS} FROM recall_messages"  # noqa: S608 -- constant columns
        params: tuple[str, ...] = ()
        if state is not None:
            sql += " WHERE state = ?"
            params = (RecallState(state).value,)
        rows = self._conn.execute(sql + " ORDER BY recall_id", params).fetchall()
        return [self._entry(row) for row in rows]

    def latest(
        self, state: RecallState | None = None, *, limit: int, offset: int = 0
    ) -> list[OutboxEntry]:
        """One page of the messages (or those in `state`), newest first.

        Only the page's contents are decrypted, however long the outbox has grown.
        """
        if limit < 1 or offset < 0:
            raise ValueError("limit must be at least 1 and offset not negative")
        sql = f"SELECT {_COLUMNS} FROM recall_messages"  # noqa: S608 -- constant columns
        params: tuple[object, ...] = ()
        if state is not None:
            sql += " WHERE state = ?"
            params = (RecallState(state).value,)
        rows = self._conn.execute(
            sql + " ORDER BY recall_id DESC LIMIT ? OFFSET ?", (*params, limit, offset)
        ).fetchall()
        return [self._entry(row) for row in rows]

    def due(self, now: datetime) -> list[OutboxEntry]:
        """The messages to try at `now`: planned ones, and failed ones whose retry time came."""
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM recall_messages"  # noqa: S608 -- constant columns
            " WHERE state = 'planned'"
            " OR (state = 'failed' AND next_attempt_at <= ?)"
            " ORDER BY recall_id",
            (_iso(now),),
        ).fetchall()
        return [self._entry(row) for row in rows]

    def interrupted(self) -> list[int]:
        """Ids of the messages left in `sending`: handed over, or about to be, when we stopped."""
        rows = self._conn.execute(
            "SELECT recall_id FROM recall_messages WHERE state = 'sending'"
            " ORDER BY recall_id"
        ).fetchall()
        return [int(row[0]) for row in rows]

    def content(self, recall_id: int) -> PlannedRecall:
        """The decrypted audience and items of a message; StoreError if there is none.

        Raises DecryptionError if the content does not decrypt under this key ring.
        """
        row = self._conn.execute(
            "SELECT patient_id, content FROM recall_messages WHERE recall_id = ?",
            (recall_id,),
        ).fetchone()
        if row is None:
            raise StoreError(f"rappel n° {recall_id} introuvable")
        return self._decrypt_content(recall_id, str(row[0]), row[1])

    def history(self) -> list[PastRecall]:
        """Every item ever planned, with its message's state and Paris dates.

        What the planner needs to decide the next step; in recall-id then item order. The
        attempt date is that of the message's latest transition once it was tried at least
        once (for an `uncertain` message: when it may have gone out).
        """
        rows = self._conn.execute(
            "SELECT recall_id, patient_id, state, sent_at, attempts, updated_at, content"
            " FROM recall_messages ORDER BY recall_id"
        ).fetchall()
        past: list[PastRecall] = []
        for recall_id, patient_id, state, sent_at, attempts, updated, content in rows:
            recall = self._decrypt_content(int(recall_id), str(patient_id), content)
            sent_on = _paris_date(sent_at)
            attempted_on = _paris_date(updated) if attempts else None
            past.extend(
                PastRecall(
                    recall.patient_id,
                    item.indicator,
                    item.cycle,
                    item.step,
                    RecallState(state),
                    sent_on,
                    attempted_on,
                )
                for item in recall.items
            )
        return past

    def counts(self) -> dict[str, int]:
        """Messages by state, every state present (for status pages)."""
        found = {state.value: 0 for state in RecallState}
        for state, count in self._conn.execute(
            "SELECT state, count(*) FROM recall_messages GROUP BY state"
        ):
            found[str(state)] = int(count)
        return found

    # --- transitions -------------------------------------------------------------------

    def mark_sending(self, recall_id: int, *, channel: str, now: datetime) -> int:
        """planned | failed → sending on `channel`, committed; returns the attempt's number.

        Call before handing the message over: a crash after this commit leaves the message
        in `sending`, which start-up turns into `uncertain`, never into a second send.
        """
        before = self._transition(
            recall_id,
            sources={RecallState.PLANNED, RecallState.FAILED},
            target=RecallState.SENDING,
            now=now,
            updates=lambda current: {
                "channel": channel,
                "attempts": current.attempts + 1,
                "next_attempt_at": None,
            },
            note=f"channel={channel}",
        )
        return before.attempts + 1

    def mark_sent(self, recall_id: int, *, now: datetime) -> None:
        """sending → sent: the channel accepted the message at `now`."""
        self._transition(
            recall_id,
            sources={RecallState.SENDING},
            target=RecallState.SENT,
            now=now,
            updates=lambda _: {"sent_at": _iso(now), "last_error": None},
        )

    def mark_failed(
        self,
        recall_id: int,
        *,
        next_attempt_at: datetime,
        error: str,
        now: datetime,
    ) -> None:
        """sending → failed: a temporary failure; due again from `next_attempt_at`."""
        self._transition(
            recall_id,
            sources={RecallState.SENDING},
            target=RecallState.FAILED,
            now=now,
            updates=lambda _: {
                "next_attempt_at": _iso(next_attempt_at),
                "last_error": _clip(error),
            },
        )

    def mark_rejected(
        self, recall_id: int, *, channel: str, error: str, now: datetime
    ) -> None:
        """sending → planned: `channel` rejected the message for good; never tried again for it."""

        def updates(current: _Current) -> Mapping[str, object]:
            rejected = (*current.rejected_channels, channel)
            return {
                "rejected_channels": json.dumps(rejected),
                "last_error": _clip(error),
            }

        self._transition(
            recall_id,
            sources={RecallState.SENDING},
            target=RecallState.PLANNED,
            now=now,
            updates=updates,
            action="recall.rejected",
            note=f"channel={channel}",
        )

    def mark_dead(self, recall_id: int, *, reason: str, now: datetime) -> None:
        """planned | sending | failed → dead: no more automatic attempts, for `reason`."""
        self._transition(
            recall_id,
            sources={RecallState.PLANNED, RecallState.SENDING, RecallState.FAILED},
            target=RecallState.DEAD,
            now=now,
            updates=lambda _: {"next_attempt_at": None, "last_error": _clip(reason)},
        )

    def mark_uncertain(self, recall_id: int, *, reason: str, now: datetime) -> None:
        """sending → uncertain: the message may have gone out; a person decides."""
        self._transition(
            recall_id,
            sources={RecallState.SENDING},
            target=RecallState.UNCERTAIN,
            now=now,
            updates=lambda _: {"last_error": _clip(reason)},
        )

    def retry(self, recall_id: int, *, actor: str, now: datetime) -> None:
        """failed | dead | uncertain → planned, asked by `actor`: due at the next delivery.

        Attempts are kept; the rejecting channels are forgotten, since a person asking for a
        retry has usually fixed what made them reject it (an address, a certificate).
        """
        self._transition(
            recall_id,
            sources={RecallState.FAILED, RecallState.DEAD, RecallState.UNCERTAIN},
            target=RecallState.PLANNED,
            now=now,
            updates=lambda _: {"rejected_channels": "[]", "next_attempt_at": None},
            actor=actor,
            action="recall.retry",
        )

    def _transition(
        self,
        recall_id: int,
        *,
        sources: Collection[RecallState],
        target: RecallState,
        now: datetime,
        updates: _Updates,
        actor: str = SYSTEM_ACTOR,
        action: str | None = None,
        note: str = "",
    ) -> _Current:
        """Check the state, update the row and audit it, in one committed transaction.

        Returns the row as it was before.
        """
        stamp = _iso(now)
        with self._write():
            current = self._current(recall_id)
            if current.state not in sources:
                raise RecallStateError(recall_id, current.state, target)
            values = {"state": target.value, "updated_at": stamp, **updates(current)}
            # Column names come from this module's own literals, never from input.
            assignments = ", ".join(f"{column} = ?" for column in values)
            self._conn.execute(
                f"UPDATE recall_messages SET {assignments} WHERE recall_id = ?",  # noqa: S608 -- own column names
                (*values.values(), recall_id),
            )
            detail = f"recall_id={recall_id} from={current.state} to={target}"
            self._audit.append(
                actor=actor,
                action=action or f"recall.{target}",
                target=current.patient_id,
                detail=f"{detail} {note}".rstrip(),
            )
        log.info("recall %d: %s", recall_id, target)
        return current

    def _current(self, recall_id: int) -> _Current:
        row = self._conn.execute(
            "SELECT state, patient_id, attempts, rejected_channels"
            " FROM recall_messages WHERE recall_id = ?",
            (recall_id,),
        ).fetchone()
        if row is None:
            raise StoreError(f"rappel n° {recall_id} introuvable")
        state, patient_id, attempts, rejected = row
        return _Current(
            RecallState(state), str(patient_id), int(attempts), _channels(rejected)
        )

    # --- encryption --------------------------------------------------------------------

    def _item_key(self, key: RecallKey) -> bytes:
        parts = (key.patient_id, key.indicator, key.cycle, str(key.step))
        return self._cipher.blind_index(ITEM_KEY_KIND, _KEY_SEPARATOR.join(parts))

    def _encrypt_content(self, recall: PlannedRecall, recall_id: int) -> bytes:
        plain = json.dumps(_content_payload(recall), sort_keys=True, ensure_ascii=False)
        return self._cipher.encrypt(
            plain.encode("utf-8"),
            table=MESSAGES,
            record_id=_record_id(recall_id, recall.patient_id),
            field=CONTENT,
        )

    def _decrypt_content(
        self, recall_id: int, patient_id: str, value: object
    ) -> PlannedRecall:
        if not isinstance(value, bytes):
            # Not a ciphertext at all (e.g. hand-edited to text): as opaque as a bad tag.
            raise DecryptionError()
        plain = self._cipher.decrypt(
            value,
            table=MESSAGES,
            record_id=_record_id(recall_id, patient_id),
            field=CONTENT,
        )
        try:
            return _content_from_payload(json.loads(plain.decode("utf-8")), patient_id)
        except (UnicodeDecodeError, ValueError, TypeError, KeyError):
            # Authenticated yet unreadable (json.JSONDecodeError is a ValueError): written
            # by a bug, reported like any bad value.
            raise DecryptionError() from None

    def _entry(self, row: tuple[Any, ...]) -> OutboxEntry:
        (
            recall_id,
            patient_id,
            state,
            channel,
            rejected,
            attempts,
            next_attempt_at,
            created_at,
            sent_at,
            last_error,
            message_id,
            content,
        ) = row
        recall = self._decrypt_content(int(recall_id), str(patient_id), content)
        return OutboxEntry(
            id=int(recall_id),
            patient_id=str(patient_id),
            state=RecallState(state),
            channel=channel,
            attempts=int(attempts),
            next_attempt_at=_datetime_or_none(next_attempt_at),
            created_at=datetime.fromisoformat(created_at),
            sent_at=_datetime_or_none(sent_at),
            last_error=last_error,
            message_id=str(message_id),
            indicators=tuple(item.indicator for item in recall.items),
            rejected_channels=_channels(rejected),
        )


def _record_id(recall_id: int, patient_id: str) -> str:
    """The AAD record id: the row and its patient, so moving a content breaks it."""
    return f"{recall_id:d}/{patient_id}"


def _message_id(recall_id: int, domain: str) -> str:
    """A fresh RFC 5322 Message-ID naming the recall id, unguessable and unique per store."""
    return f"<rappel.{recall_id:d}.{secrets.token_hex(12)}@{domain}>"


def _content_payload(recall: PlannedRecall) -> dict[str, Any]:
    """Everything but the patient id, which lives in clear and is bound through the AAD."""
    return {
        "version": CONTENT_VERSION,
        "audience": recall.audience.value,
        "items": [
            {
                "indicator": item.indicator,
                "label": item.label,
                "cycle": item.cycle,
                "step": item.step,
                "status": item.status.value,
                "due": None if item.due is None else item.due.isoformat(),
            }
            for item in recall.items
        ],
    }


def _content_from_payload(data: object, patient_id: str) -> PlannedRecall:
    """Rebuild a PlannedRecall; ValueError, TypeError or KeyError if `data` is malformed."""
    if not isinstance(data, dict) or data.get("version") != CONTENT_VERSION:
        raise ValueError("unexpected recall content")
    items = tuple(_item(entry) for entry in data["items"])
    return PlannedRecall(patient_id, Audience(data["audience"]), items)


def _item(data: object) -> DueItem:
    if not isinstance(data, dict):
        raise TypeError("item")
    for name in ("indicator", "label", "cycle"):
        if not isinstance(data[name], str):
            raise TypeError(name)
    if not isinstance(data["step"], int):
        raise TypeError("step")
    due = data["due"]
    return DueItem(
        indicator=data["indicator"],
        label=data["label"],
        cycle=data["cycle"],
        step=data["step"],
        status=Status(data["status"]),
        due=None if due is None else date.fromisoformat(due),
    )


def _iso(moment: datetime) -> str:
    """UTC ISO 8601 with microseconds: one spelling, so text order is time order."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("outbox times must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _datetime_or_none(value: object) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def _paris_date(stamp: object) -> date | None:
    """The Paris calendar date of a stored time (a recall sent at 00:30 Paris is that day)."""
    moment = _datetime_or_none(stamp)
    return None if moment is None else moment.astimezone(PARIS).date()


def _channels(value: object) -> tuple[str, ...]:
    names = json.loads(str(value or "[]"))
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise StoreError("liste des canaux rejetés illisible")
    return tuple(names)


def _clip(text: str) -> str:
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"
