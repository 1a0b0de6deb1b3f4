"""The last known indicator statuses of each patient, encrypted, one row per patient."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from datetime import date
from typing import Any

from fmt_plugin.errors import DecryptionError
from fmt_plugin.status_changes import KnownStatus, PatientStatuses
from fmt_plugin.storage.crypto import FieldCipher

TABLE = "indicator_statuses"
FIELD = "payload"


class IndicatorStatuses:
    """Read and replace `indicator_statuses`; the caller decides what changed."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        cipher: FieldCipher,
        write: Callable[[], AbstractContextManager[None]],
    ) -> None:
        self._conn = conn
        self._cipher = cipher
        self._write = write

    def __repr__(self) -> str:
        return "<IndicatorStatuses>"

    def all(self) -> dict[str, PatientStatuses]:
        """Every patient's remembered statuses."""
        rows = self._conn.execute("SELECT patient_id, payload FROM indicator_statuses")
        return {
            patient_id: self._decrypt(patient_id, value) for patient_id, value in rows
        }

    def replace(
        self, statuses: Mapping[str, Mapping[str, KnownStatus]], *, evaluated_on: date
    ) -> None:
        """Remember these patients' statuses (other patients' rows are left as they are)."""
        rows = [
            (patient_id, evaluated_on.isoformat(), self._encrypt(patient_id, known))
            for patient_id, known in statuses.items()
        ]
        with self._write():
            self._conn.executemany(
                "INSERT OR REPLACE INTO indicator_statuses (patient_id, evaluated_on, payload)"
                " VALUES (?, ?, ?)",
                rows,
            )

    def _encrypt(self, patient_id: str, known: Mapping[str, KnownStatus]) -> bytes:
        payload = {
            indicator: [status.status, status.due.isoformat() if status.due else None]
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
            return {
                indicator: KnownStatus(status, date.fromisoformat(due) if due else None)
                for indicator, (status, due) in payload.items()
            }
        except (UnicodeDecodeError, ValueError, TypeError) as exc:
            raise DecryptionError() from exc
