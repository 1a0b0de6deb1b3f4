"""When recalls may go out: holidays, sending days and hours, in Paris time."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from fmt_plugin.config import RecallSettings
from fmt_plugin.recalls.calendar import (
    easter_sunday,
    french_public_holidays,
    is_planning_day,
    may_send_at,
)
from fmt_plugin.timezone import PARIS


@pytest.mark.parametrize(
    ("year", "easter"),
    [
        (2024, date(2024, 3, 31)),
        (2025, date(2025, 4, 20)),
        (2026, date(2026, 4, 5)),
        (2027, date(2027, 3, 28)),
        (2038, date(2038, 4, 25)),
    ],
)
def test_easter_sunday_matches_the_calendar(year: int, easter: date) -> None:
    """Easter Sunday is computed for any Gregorian year."""
    assert easter_sunday(year) == easter


def test_the_2026_public_holidays_are_the_eleven_of_the_code_du_travail() -> None:
    """2026 has eleven holidays, the moving ones after Easter on 5 April."""
    assert sorted(french_public_holidays(2026)) == [
        date(2026, 1, 1),
        date(2026, 4, 6),
        date(2026, 5, 1),
        date(2026, 5, 8),
        date(2026, 5, 14),
        date(2026, 5, 25),
        date(2026, 7, 14),
        date(2026, 8, 15),
        date(2026, 11, 1),
        date(2026, 11, 11),
        date(2026, 12, 25),
    ]


def test_alsace_moselle_adds_good_friday_and_saint_stephen() -> None:
    """Alsace-Moselle practices also rest on Good Friday and 26 December."""
    extra = french_public_holidays(2026, alsace_moselle=True) - french_public_holidays(
        2026
    )
    assert extra == {date(2026, 4, 3), date(2026, 12, 26)}


def test_planning_skips_weekends_and_holidays() -> None:
    """Planning runs Monday to Friday, not on Armistice day."""
    settings = RecallSettings()
    assert is_planning_day(date(2026, 11, 23), settings)  # Monday
    assert not is_planning_day(date(2026, 11, 22), settings)  # Sunday
    assert not is_planning_day(date(2026, 11, 11), settings)  # Wednesday, Armistice


@pytest.mark.parametrize(
    ("local", "allowed"),
    [
        (datetime(2026, 11, 23, 7, 59, tzinfo=PARIS), False),  # Monday, before hours
        (datetime(2026, 11, 23, 8, 0, tzinfo=PARIS), True),
        (datetime(2026, 11, 23, 18, 59, tzinfo=PARIS), True),
        (datetime(2026, 11, 23, 19, 0, tzinfo=PARIS), False),  # the end is excluded
        (datetime(2026, 11, 28, 10, 0, tzinfo=PARIS), True),  # Saturday
        (datetime(2026, 11, 29, 10, 0, tzinfo=PARIS), False),  # Sunday
        (datetime(2026, 12, 25, 10, 0, tzinfo=PARIS), False),  # Christmas, a Friday
    ],
)
def test_sending_window_in_paris_time(local: datetime, allowed: bool) -> None:
    """Delivery is allowed from 08:00 to 19:00 Paris time, Monday to Saturday, not holidays."""
    moment = local.astimezone(UTC)
    assert may_send_at(moment, RecallSettings()) is allowed


def test_sending_window_follows_summer_time() -> None:
    """08:30 in Paris in July is 06:30 UTC: inside the window."""
    assert may_send_at(datetime(2026, 7, 15, 6, 30, tzinfo=UTC), RecallSettings())
