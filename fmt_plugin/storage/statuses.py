"""The last known indicator statuses of each patient, encrypted, one row per patient."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from typing import Any

from fmt_plugin.errors import DecryptionError
from fmt_plugin.status_changes import KnownStatus, PatientStatuses
from fmt_plugin.storage.connection import StoreConnection, dialect_of
from fmt_plugin.storage.crypto import FieldCipher

TABLE = "indicator_statuses"
FIELD = "payload"

#: `excluded.revision` is the revision the row would have had if inserted: on SQLite the
#: next AUTOINCREMENT number, on PostgreSQL the next of the identity sequence. Either way
#: a replaced row takes a number never handed out before, as `INSERT OR REPLACE` (which
#: deleted the row and inserted it anew) gave it on SQLite. One number per write: `SET
#: revision = DEFAULT` would draw a second one on PostgreSQL and does not parse on SQLite.
REPLACE = (
    "INSERT INTO indicator_statuses (patient_id, evaluated_on, payload)"
    " VALUES (?, ?, ?)"
    " ON CONFLICT (patient_id) DO UPDATE SET revision = excluded.revision,"
    " evaluated_on = excluded.evaluated_on, payload = excluded.payload"
)

#: The rows of a JSON array of patient ids. No function does this on both engines, and a
#: list of `?` would hit SQLite's limit on parameters for a large practice.
SELECT_OF = {
    "sqlite": "SELECT patient_id, payload FROM indicator_statuses"
    " WHERE patient_id IN (SELECT value FROM json_each(?))",
    "postgresql": "SELECT patient_id, payload FROM indicator_statuses"
    " WHERE patient_id IN"
    " (SELECT value FROM json_array_elements_text(CAST(? AS json)))",
}


@dataclass(frozen=True)
class StatusCoverage:
    """The active patients whose statuses are remembered, and the days they were evaluated.

    Only patients evaluated at least once have a row: after the first night every active
    patient has one (an empty one when no indicator concerns them); before, only those
    whose records changed. `oldest` and `newest` differ when the nightly run was missed
    and only the patients of recent messages were evaluated since.
    """

    patients: int
    oldest: date | None
    newest: date | None


class IndicatorStatuses:
    """Read and replace `indicator_statuses`; the caller decides what changed."""

    def __init__(
        self,
        conn: StoreConnection,
        cipher: FieldCipher,
        write: Callable[[], AbstractContextManager[None]],
    ) -> None:
        self._conn = conn
        self._cipher = cipher
        self._write = write
        self._select_of = SELECT_OF[dialect_of(conn)]

    def __repr__(self) -> str:
        return "<IndicatorStatuses>"

    def all(self) -> dict[str, PatientStatuses]:
        """Every patient's remembered statuses."""
        rows = self._conn.execute("SELECT patient_id, payload FROM indicator_statuses")
        return {
            patient_id: self._decrypt(patient_id, value) for patient_id, value in rows
        }

    def evaluated_on(self) -> dict[str, date]:
        """The day each patient's statuses were last evaluated (nothing decrypted)."""
        rows = self._conn.execute(
            "SELECT patient_id, evaluated_on FROM indicator_statuses"
        )
        return {patient_id: date.fromisoformat(day) for patient_id, day in rows}

    def of(self, patient_ids: Iterable[str]) -> dict[str, PatientStatuses]:
        """The remembered statuses of these patients (those never evaluated are absent).

        Only their rows are decrypted: one patient's page must not decrypt the practice.
        The ids go in as one JSON parameter, whatever their number.
        """
        rows = self._conn.execute(
            self._select_of, (json.dumps(sorted(set(patient_ids))),)
        )
        return {
            patient_id: self._decrypt(patient_id, value) for patient_id, value in rows
        }

    def written_since(self, revision: int) -> tuple[int, dict[str, PatientStatuses]]:
        """The rows replaced after `revision` (0: every row) and the revision now.

        Each replacement gives the row a new revision, never reused (SQLite's
        AUTOINCREMENT, PostgreSQL's identity sequence; see REPLACE): a reader that keeps a copy (the dashboard) re-reads only what changed since.
        """
        rows = self._conn.execute(
            "SELECT revision, patient_id, payload FROM indicator_statuses"
            " WHERE revision > ? ORDER BY revision",
            (revision,),
        ).fetchall()
        latest = max((row[0] for row in rows), default=revision)
        return latest, {
            patient_id: self._decrypt(patient_id, value)
            for _, patient_id, value in rows
        }

    def coverage(self) -> StatusCoverage:
        """How many active patients have remembered statuses, and evaluated on which days."""
        count, oldest, newest = self._conn.execute(
            "SELECT count(*), min(s.evaluated_on), max(s.evaluated_on)"
            " FROM indicator_statuses s JOIN patients p ON p.patient_id = s.patient_id"
            " WHERE p.active = 1"
        ).fetchone()
        if oldest is None:
            return StatusCoverage(0, None, None)
        return StatusCoverage(
            count, date.fromisoformat(oldest), date.fromisoformat(newest)
        )

    def replace(
        self, statuses: Mapping[str, Mapping[str, KnownStatus]], *, evaluated_on: date
    ) -> None:
        """Remember these patients' statuses (other patients' rows are left as they are)."""
        rows = [
            (patient_id, evaluated_on.isoformat(), self._encrypt(patient_id, known))
            for patient_id, known in statuses.items()
        ]
        with self._write():
            self._conn.executemany(REPLACE, rows)

    def _encrypt(self, patient_id: str, known: Mapping[str, KnownStatus]) -> bytes:
        payload = {
            indicator: [
                status.status,
                _iso(status.due),
                status.hors_fmt,
                status.catch_up,
                _iso(status.last_act),
                status.last_code,
            ]
            for indicator, status in known.items()
        }
        plain = json.dumps(payload, sort_keys=True).encode("utf-8")
        return self._cipher.encrypt(
            plain, table=TABLE, record_id=patient_id, field=FIELD
        )

    def _decrypt(self, patient_id: str, value: object) -> PatientStatuses:
        if not isinstance(value, bytes):
            raise DecryptionError()
        plain = self._cipher.decrypt(
            value, table=TABLE, record_id=patient_id, field=FIELD
        )
        try:
            payload: dict[str, Any] = json.loads(plain.decode("utf-8"))
            return {indicator: _known(fields) for indicator, fields in payload.items()}
        except (UnicodeDecodeError, ValueError, TypeError) as exc:
            raise DecryptionError() from exc


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _known(fields: list[Any]) -> KnownStatus:
    """One stored indicator; rows written before the details were kept have two fields."""
    status, due, *details = fields
    hors_fmt, catch_up, last_act, last_code = details or (False, False, None, None)
    return KnownStatus(
        status,
        date.fromisoformat(due) if due else None,
        hors_fmt=bool(hors_fmt),
        catch_up=bool(catch_up),
        last_act=date.fromisoformat(last_act) if last_act else None,
        last_code=last_code,
    )
