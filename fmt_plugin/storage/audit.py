"""Append to and verify the HMAC-SHA256 hash-chained audit log.

Entry n carries `mac_n = HMAC(audit_key, mac_{n-1} || canonical JSON of the entry)`, the
first entry chaining from 32 zero bytes. `audit_head` holds the last seq and mac under their
own HMAC, so that removing entries from the end of the log is detected too. Entries name
actors, actions and internal ids only, never patient data.
"""

from __future__ import annotations

import hmac
import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from hashlib import sha256

from fmt_plugin.errors import AuditChainError

MAC_BYTES = 32
GENESIS_MAC = bytes(MAC_BYTES)
HEAD_LABEL = b"head"


@dataclass(frozen=True)
class AuditReport:
    """The result of `AuditLog.verify`: `first_broken` is the seq of the first bad entry."""

    ok: bool
    entries: int
    first_broken: int | None
    reason: str | None


@dataclass(frozen=True)
class AuditEntry:
    """One entry as stored, for reading: ids and codes only, never patient data.

    `at` is None when the stored time is not one (a row edited by hand, which `verify`
    reports): reading the log must not fail on the very rows it should show.
    """

    seq: int
    at: datetime | None
    actor: str
    action: str
    target: str | None
    detail: str | None


#: Most entries one `entries` call returns (a page of the dashboard asks for far fewer).
MAX_ENTRIES = 1000


@dataclass(frozen=True)
class _Head:
    seq: int
    mac: bytes
    head_mac: bytes


class AuditLog:
    """The audit chain stored in `audit_log` and `audit_head` of one SQLite connection."""

    def __init__(self, conn: sqlite3.Connection, key: bytes) -> None:
        self._conn = conn
        self._key = key
        # The head this connection's open transaction moved to, for the anchor after commit.
        self._appended: tuple[int, bytes] | None = None

    def __repr__(self) -> str:
        return "<AuditLog>"

    def append(
        self,
        *,
        actor: str,
        action: str,
        target: str | None = None,
        detail: str | None = None,
        at: datetime | None = None,
    ) -> int:
        """Add one entry and move the head; return its seq.

        Runs inside the caller's transaction, so the entry commits or rolls back with the
        change it records. Raises AuditChainError, writing nothing, if the head is missing
        or forged: extending a tampered chain would hide the tampering.
        """
        prev_seq, prev_mac = self._checked_head()
        seq = prev_seq + 1
        when = _timestamp(at)
        mac = self._entry_mac(prev_mac, seq, when, actor, action, target, detail)
        self._conn.execute(
            "INSERT INTO audit_log"
            " (seq, at, actor, action, target, detail, prev_mac, mac)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, when, actor, action, target, detail, prev_mac, mac),
        )
        self._conn.execute(
            "INSERT INTO audit_head (id, seq, mac, head_mac) VALUES (1, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE"
            " SET seq = excluded.seq, mac = excluded.mac, head_mac = excluded.head_mac",
            (seq, mac, self._head_mac(seq, mac)),
        )
        self._appended = (seq, mac)
        return seq

    def take_appended(self) -> tuple[int, bytes] | None:
        """The (seq, mac) the last transaction moved the head to, once; None if it did not.

        Called after a commit (the head is durable: anchor it) or a rollback (forget it).
        """
        appended, self._appended = self._appended, None
        return appended

    def mac_of(self, seq: int) -> bytes | None:
        """The stored MAC of entry `seq`, None when there is no such entry."""
        row = self._conn.execute(
            "SELECT mac FROM audit_log WHERE seq = ?", (seq,)
        ).fetchone()
        return row[0] if row is not None and isinstance(row[0], bytes) else None

    def last(self) -> tuple[int, bytes] | None:
        """The (seq, mac) of the newest entry, None for an empty log."""
        row = self._conn.execute(
            "SELECT seq, mac FROM audit_log ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        if row is None or not isinstance(row[1], bytes):
            return None
        return int(row[0]), row[1]

    def entries(
        self,
        *,
        before_seq: int | None = None,
        limit: int = 50,
        action: str | None = None,
    ) -> list[AuditEntry]:
        """The latest entries, newest first: those below `before_seq` when it is given.

        `action` keeps only the entries of that action; `limit` is capped at MAX_ENTRIES.
        Paging goes backwards: the next page starts before the last seq of this one. Reads
        the rows as they are, without checking them (that is `verify`'s job).
        """
        if limit < 1:
            raise ValueError("limit must be at least 1")
        clauses: list[str] = []
        params: list[object] = []
        if before_seq is not None:
            clauses.append("seq < ?")
            params.append(before_seq)
        if action is not None:
            clauses.append("action = ?")
            params.append(action)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._conn.execute(
            "SELECT seq, at, actor, action, target, detail FROM audit_log"  # noqa: S608 -- constant clauses
            f"{where} ORDER BY seq DESC LIMIT ?",
            (*params, min(limit, MAX_ENTRIES)),
        ).fetchall()
        return [_entry(row) for row in rows]

    def actions(self) -> list[str]:
        """Every action the log holds, in alphabetical order (for a filter's choices)."""
        rows = self._conn.execute(
            "SELECT DISTINCT action FROM audit_log ORDER BY action"
        ).fetchall()
        return [str(row[0]) for row in rows]

    def verify(self, *, genesis_action: str | None = None) -> AuditReport:
        """Recompute every mac in seq order, then check the head against the last entry.

        With `genesis_action`, the chain must start with an entry of that action (the one
        made when the store was created): an emptied log, or one restarted from scratch
        after `DELETE FROM audit_log`, is refused. Reads one consistent snapshot; writes
        nothing.
        """
        # A read transaction, unless the caller already holds one, so that an append
        # committed between the two SELECTs cannot look like a forged head.
        own = not self._conn.in_transaction
        if own:
            self._conn.execute("BEGIN")
        try:
            rows = self._conn.execute(
                "SELECT seq, at, actor, action, target, detail, prev_mac, mac"
                " FROM audit_log ORDER BY seq"
            ).fetchall()
            head = self._read_head()
        finally:
            if own:
                self._conn.execute("COMMIT")
        return self._verify_rows(rows, head, genesis_action)

    def _verify_rows(
        self,
        rows: list[tuple[object, ...]],
        head: _Head | None,
        genesis_action: str | None,
    ) -> AuditReport:
        if genesis_action is not None:
            problem = _genesis_problem(rows, genesis_action)
            if problem is not None:
                return AuditReport(False, len(rows), 1, problem)
        expected_seq, expected_prev = 1, GENESIS_MAC
        for row in rows:
            problem = self._row_problem(row, expected_seq, expected_prev)
            if problem is not None:
                # A gap reports the first missing seq; otherwise seq == expected_seq.
                return AuditReport(False, len(rows), expected_seq, problem)
            mac = row[7]
            expected_seq += 1
            expected_prev = mac if isinstance(mac, bytes) else b""
        problem_at = self._head_problem(head, expected_seq - 1, expected_prev)
        if problem_at is not None:
            return AuditReport(False, len(rows), *problem_at)
        return AuditReport(True, len(rows), None, None)

    def _row_problem(
        self, row: tuple[object, ...], expected_seq: int, expected_prev: bytes
    ) -> str | None:
        seq, at, actor, action, target, detail, prev_mac, mac = row
        if seq != expected_seq:
            return f"entrée n° {expected_seq} supprimée (ou renumérotée)"
        if not all(isinstance(value, str) for value in (at, actor, action)) or not all(
            value is None or isinstance(value, str) for value in (target, detail)
        ):
            return "entrée modifiée : type de colonne inattendu"
        if not isinstance(prev_mac, bytes) or not hmac.compare_digest(
            prev_mac, expected_prev
        ):
            return "chaînage rompu : prev_mac ne correspond pas à l'entrée précédente"
        computed = self._entry_mac(
            prev_mac,
            expected_seq,
            str(at),
            str(actor),
            str(action),
            None if target is None else str(target),
            None if detail is None else str(detail),
        )
        if not isinstance(mac, bytes) or not hmac.compare_digest(mac, computed):
            return "entrée modifiée : le MAC ne correspond pas"
        return None

    def _head_problem(
        self, head: _Head | None, last_seq: int, last_mac: bytes
    ) -> tuple[int, str] | None:
        """(first broken seq, reason) when the head does not vouch for the last entry."""
        if head is None:
            if last_seq == 0:
                return None
            return last_seq, "tête du journal absente"
        if not hmac.compare_digest(head.head_mac, self._head_mac(head.seq, head.mac)):
            return max(1, min(head.seq, last_seq + 1)), "tête du journal modifiée"
        if head.seq > last_seq:
            return (
                last_seq + 1,
                f"fin du journal supprimée (dernière entrée : {head.seq})",
            )
        if head.seq < last_seq:
            return head.seq + 1, "entrées ajoutées après la tête du journal"
        if not hmac.compare_digest(head.mac, last_mac):
            return last_seq, "la tête du journal ne correspond pas à la dernière entrée"
        return None

    def _checked_head(self) -> tuple[int, bytes]:
        head = self._read_head()
        if head is None:
            row = self._conn.execute("SELECT MAX(seq) FROM audit_log").fetchone()
            if row[0] is not None:
                raise AuditChainError(int(row[0]), "tête du journal absente")
            return 0, GENESIS_MAC
        if not hmac.compare_digest(head.head_mac, self._head_mac(head.seq, head.mac)):
            raise AuditChainError(head.seq, "tête du journal modifiée")
        return head.seq, head.mac

    def _read_head(self) -> _Head | None:
        row = self._conn.execute(
            "SELECT seq, mac, head_mac FROM audit_head WHERE id = 1"
        ).fetchone()
        if row is None:
            return None
        seq, mac, head_mac = row
        if not (isinstance(seq, int) and isinstance(mac, bytes)):
            # Typed wrongly by someone writing raw SQL: treat as forged, never crash.
            return _Head(-1, b"", b"")
        return _Head(seq, mac, head_mac if isinstance(head_mac, bytes) else b"")

    def _entry_mac(
        self,
        prev_mac: bytes,
        seq: int,
        at: str,
        actor: str,
        action: str,
        target: str | None,
        detail: str | None,
    ) -> bytes:
        payload = {
            "seq": seq,
            "at": at,
            "actor": actor,
            "action": action,
            "target": target,
            "detail": detail,
        }
        canonical = json.dumps(
            payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8")
        return hmac.new(self._key, prev_mac + canonical, sha256).digest()

    def _head_mac(self, seq: int, mac: bytes) -> bytes:
        message = HEAD_LABEL + b"\x00" + seq.to_bytes(8, "big", signed=True) + mac
        return hmac.new(self._key, message, sha256).digest()


def _genesis_problem(rows: list[tuple[object, ...]], action: str) -> str | None:
    if not rows:
        return "journal vide : l'entrée de création de la base (n° 1) a disparu"
    first_seq, first_action = rows[0][0], rows[0][3]
    if first_seq != 1:
        return None  # reported by the row checks as a deleted first entry
    if first_action != action:
        return (
            "début du journal remplacé : l'entrée n° 1 n'est pas la création de la base"
        )
    return None


def _entry(row: tuple[object, ...]) -> AuditEntry:
    seq, at, actor, action, target, detail = row
    return AuditEntry(
        seq=int(str(seq)),
        at=_stored_time(at),
        actor=str(actor),
        action=str(action),
        target=None if target is None else str(target),
        detail=None if detail is None else str(detail),
    )


def _stored_time(value: object) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _timestamp(at: datetime | None) -> str:
    if at is None:
        at = datetime.now(UTC)
    elif at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("audit timestamps must be timezone-aware")
    return at.astimezone(UTC).isoformat(timespec="microseconds")
