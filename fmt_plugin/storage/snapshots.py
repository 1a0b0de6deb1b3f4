"""The daily snapshots of the practice's status counts per indicator (taux d'atteinte history)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from datetime import date, datetime

from fmt_plugin.rules.rates import IndicatorRate
from fmt_plugin.storage.connection import StoreConnection

#: The day's row of an indicator is replaced whole, as `INSERT OR REPLACE` did (SQLite
#: only); this form runs on both backends.
RECORD = (
    "INSERT INTO rate_snapshots"
    " (day, indicator, done, to_check, upcoming, excluded, taken_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (day, indicator) DO UPDATE SET"
    " done = excluded.done, to_check = excluded.to_check,"
    " upcoming = excluded.upcoming, excluded = excluded.excluded,"
    " taken_at = excluded.taken_at"
)


class RateSnapshots:
    """Write and read `rate_snapshots`: one row per day and indicator, counts only."""

    def __init__(
        self,
        conn: StoreConnection,
        write: Callable[[], AbstractContextManager[None]],
    ) -> None:
        self._conn = conn
        self._write = write

    def record(
        self, day: date, rates: Iterable[IndicatorRate], *, taken_at: datetime
    ) -> None:
        """Keep `day`'s counts; a second snapshot of the same day replaces the first."""
        stamp = taken_at.isoformat(timespec="seconds")
        rows = [
            (
                day.isoformat(),
                r.indicator,
                r.fait,
                r.a_verifier,
                r.a_venir,
                r.exclu,
                stamp,
            )
            for r in rates
        ]
        with self._write():
            self._conn.executemany(RECORD, rows)

    def days(self) -> set[date]:
        """The days that have a snapshot."""
        rows = self._conn.execute("SELECT DISTINCT day FROM rate_snapshots").fetchall()
        return {date.fromisoformat(day) for (day,) in rows}

    def history(self) -> dict[date, list[IndicatorRate]]:
        """Every snapshot, oldest day first, indicators in name order."""
        rows = self._conn.execute(
            "SELECT day, indicator, done, to_check, upcoming, excluded"
            " FROM rate_snapshots ORDER BY day, indicator"
        ).fetchall()
        days: dict[date, list[IndicatorRate]] = {}
        for day, indicator, fait, a_verifier, a_venir, exclu in rows:
            days.setdefault(date.fromisoformat(day), []).append(
                IndicatorRate(indicator, fait, a_verifier, a_venir, exclu)
            )
        return days
