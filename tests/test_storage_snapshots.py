"""RateSnapshots on both backends: a day's counts per indicator, kept and read back."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime

import psycopg
import pytest

from fmt_plugin.rules.rates import IndicatorRate
from fmt_plugin.storage.snapshots import RateSnapshots

MONDAY = date(2026, 3, 2)
TUESDAY = date(2026, 3, 3)
NIGHT = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
LATER = datetime(2026, 3, 2, 23, 45, tzinfo=UTC)


@pytest.fixture
def snapshots(backend) -> RateSnapshots:
    return RateSnapshots(backend.conn, backend.write)


def test_a_recorded_day_is_read_back_with_its_counts(snapshots):
    """`history` gives the day's counts per indicator as they were recorded."""
    rates = [
        IndicatorRate("dep_sein", 3, 2, 1, 4),
        IndicatorRate("vacc_ror", 5, 0, 0, 1),
    ]
    snapshots.record(MONDAY, rates, taken_at=NIGHT)
    assert snapshots.history() == {MONDAY: rates}
    assert snapshots.days() == {MONDAY}


def test_a_second_snapshot_of_the_same_day_replaces_the_first(snapshots):
    """The day keeps the newest counts of each indicator, not a second row."""
    snapshots.record(MONDAY, [IndicatorRate("dep_sein", 1, 1, 1, 1)], taken_at=NIGHT)
    snapshots.record(MONDAY, [IndicatorRate("dep_sein", 2, 0, 0, 3)], taken_at=LATER)
    assert snapshots.history() == {MONDAY: [IndicatorRate("dep_sein", 2, 0, 0, 3)]}


def test_a_replacing_snapshot_keeps_its_own_time(snapshots, backend):
    """`taken_at` is the replacing snapshot's, every column of the row being replaced."""
    snapshots.record(MONDAY, [IndicatorRate("dep_sein", 1, 1, 1, 1)], taken_at=NIGHT)
    snapshots.record(MONDAY, [IndicatorRate("dep_sein", 2, 0, 0, 3)], taken_at=LATER)
    rows = backend.conn.execute("SELECT taken_at FROM rate_snapshots").fetchall()
    assert [tuple(row) for row in rows] == [("2026-03-02T23:45:00+00:00",)]


def test_replacing_one_indicator_leaves_the_days_other_indicators(snapshots):
    """A snapshot naming only some indicators replaces only their rows."""
    first = [IndicatorRate("dep_sein", 1, 1, 1, 1), IndicatorRate("vacc_ror", 4)]
    snapshots.record(MONDAY, first, taken_at=NIGHT)
    snapshots.record(MONDAY, [IndicatorRate("vacc_ror", 6)], taken_at=LATER)
    assert snapshots.history() == {
        MONDAY: [IndicatorRate("dep_sein", 1, 1, 1, 1), IndicatorRate("vacc_ror", 6)]
    }


def test_history_is_oldest_day_first_with_indicators_in_name_order(snapshots):
    """Days ascend and, within a day, indicators sort by name, whatever the order written."""
    snapshots.record(
        TUESDAY,
        [IndicatorRate("vacc_ror", 2), IndicatorRate("dep_sein", 1)],
        taken_at=LATER,
    )
    snapshots.record(MONDAY, [IndicatorRate("vacc_ror", 3)], taken_at=NIGHT)
    history = snapshots.history()
    assert list(history) == [MONDAY, TUESDAY]
    assert [rate.indicator for rate in history[TUESDAY]] == ["dep_sein", "vacc_ror"]


def test_an_empty_store_has_no_day_and_no_history(snapshots):
    """Before the first snapshot there is nothing to show."""
    assert snapshots.days() == set()
    assert snapshots.history() == {}


def test_a_failed_snapshot_keeps_nothing_of_the_day(snapshots):
    """The day's rows are written in one transaction: a bad row undoes the others."""
    bad = IndicatorRate("vacc_ror", None)  # type: ignore[arg-type]  # NOT NULL refuses it
    with pytest.raises((sqlite3.IntegrityError, psycopg.IntegrityError)):
        snapshots.record(MONDAY, [IndicatorRate("dep_sein", 1), bad], taken_at=NIGHT)
    assert snapshots.days() == set()
