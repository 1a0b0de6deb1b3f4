"""The practice reads one French form of numbers, amounts, dates, local times and durations."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from fmt_plugin.views import french

NNBSP = "\u202f"


def test_numbers_are_grouped_by_thousands_with_a_narrow_space():
    """8505 reads 8 505."""
    assert french.number(8505) == f"8{NNBSP}505"


def test_percent_has_a_decimal_comma():
    """0.377 reads 37,7 %."""
    assert french.percent(0.377) == "37,7 %"


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (8505, f"8{NNBSP}505{NNBSP}€"),
        (Decimal("12.5"), f"12,50{NNBSP}€"),
        (0, f"0{NNBSP}€"),
        (-5, f"-5{NNBSP}€"),
    ],
)
def test_euros_group_thousands_and_show_cents_only_when_there_are(amount, text):
    """Whole euros without decimals, cents with a comma."""
    assert french.euros(amount) == text


def test_dates_are_day_month_year():
    """2026-03-05 reads 05/03/2026."""
    assert french.day(date(2026, 3, 5)) == "05/03/2026"


def test_local_times_are_paris_wall_clock_times():
    """12:30 UTC in summer is 14:30 in Paris."""
    assert french.local_time(datetime(2026, 7, 1, 12, 30, tzinfo=UTC)) == (
        "01/07/2026 14:30"
    )


def test_a_naive_time_is_refused():
    """Whether a naive time is UTC or local cannot be guessed."""
    with pytest.raises(ValueError, match="timezone"):
        french.local_time(datetime(2026, 7, 1, 12, 30))  # noqa: DTZ001


@pytest.mark.parametrize(
    ("start", "end", "text"),
    [
        (date(2026, 3, 1), date(2026, 3, 2), "1 jour"),
        (date(2026, 3, 1), date(2026, 3, 20), "19 jours"),
        (date(2026, 1, 15), date(2026, 4, 20), "3 mois"),
        (date(2024, 6, 1), date(2026, 5, 31), "23 mois"),
        (date(2012, 1, 1), date(2026, 5, 31), "14 ans"),
    ],
)
def test_durations_are_said_in_days_months_or_years(start, end, text):
    """Days under a month, months under two years, then years."""
    assert french.duration(start, end) == text


def test_overdue_is_said_as_a_duration_never_in_thousands_of_days():
    """5262 days late reads in years."""
    assert french.overdue(date(2012, 1, 1), date(2026, 5, 28)) == (
        "en retard depuis 14 ans"
    )


def test_an_act_due_today_is_not_zero_days_late():
    """The due day itself says to do it today."""
    assert french.overdue(date(2026, 5, 28), date(2026, 5, 28)) == (
        "à faire dès aujourd'hui"
    )
