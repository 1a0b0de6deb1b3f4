"""Calendar arithmetic of the rules: month steps, completed ages, birthdays, pack ages."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fmt_plugin.rules.dates import (
    Age,
    AgeSpecError,
    add_months,
    completed_months,
    completed_years,
    last_birthday,
    reached,
)

ONE_DAY = timedelta(days=1)

# No deadline: the functions are pure and cheap, and a slow CI runner must not fail them.
properties = settings(deadline=None, max_examples=300)
births = st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31))
steps = st.integers(min_value=0, max_value=12 * 110)


# --- add_months -----------------------------------------------------------------------------


def test_add_months_keeps_the_day_of_the_month():
    """15 January plus one month is 15 February."""
    assert add_months(date(2026, 1, 15), 1) == date(2026, 2, 15)


def test_add_months_crosses_the_end_of_the_year():
    """15 November 2025 plus three months is 15 February 2026."""
    assert add_months(date(2025, 11, 15), 3) == date(2026, 2, 15)


def test_missing_day_moves_to_the_first_of_the_next_month():
    """31 January plus one month is 1 March (there is no 31 February)."""
    assert add_months(date(2026, 1, 31), 1) == date(2026, 3, 1)


def test_missing_30_april_day_moves_to_1_may():
    """31 March plus one month is 1 May (there is no 31 April)."""
    assert add_months(date(2026, 3, 31), 1) == date(2026, 5, 1)


def test_31_january_plus_one_month_in_a_leap_year_is_still_1_march():
    """February 2028 has 29 days, still fewer than 31."""
    assert add_months(date(2028, 1, 31), 1) == date(2028, 3, 1)


def test_31_august_plus_six_months_is_1_march():
    """The module's example: a result of 31 August lapses on 1 March."""
    assert add_months(date(2025, 8, 31), 6) == date(2026, 3, 1)


def test_29_february_plus_12_months_is_1_march_in_a_common_year():
    """29 February 2024 plus a year is 1 March 2025."""
    assert add_months(date(2024, 2, 29), 12) == date(2025, 3, 1)


def test_29_february_plus_48_months_is_29_february():
    """29 February 2024 plus four years is 29 February 2028."""
    assert add_months(date(2024, 2, 29), 48) == date(2028, 2, 29)


def test_negative_step_moves_back():
    """15 March minus one month is 15 February."""
    assert add_months(date(2026, 3, 15), -1) == date(2026, 2, 15)


def test_negative_step_crosses_the_start_of_the_year():
    """15 January 2026 minus one month is 15 December 2025."""
    assert add_months(date(2026, 1, 15), -1) == date(2025, 12, 15)


def test_negative_step_to_a_missing_day_also_moves_to_the_next_first():
    """31 March minus one month is 1 March: the same convention, backwards."""
    assert add_months(date(2026, 3, 31), -1) == date(2026, 3, 1)


@properties
@given(start=births)
def test_zero_months_is_the_same_day(start):
    """Moving by no month changes nothing."""
    assert add_months(start, 0) == start


@properties
@given(start=births, months=st.integers(min_value=-1200, max_value=1200))
def test_month_step_lands_on_the_same_day_or_on_a_first(start, months):
    """The result keeps the day of the month, or is the 1st after a missing day."""
    result = add_months(start, months)
    assert result.day == start.day or (result.day == 1 and start.day > 28)


@properties
@given(
    start=st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 28)).filter(
        lambda d: d.day <= 28
    ),
    months=st.integers(min_value=-1200, max_value=1200),
)
def test_step_and_step_back_return_to_a_day_every_month_has(start, months):
    """For days 1 to 28, moving n months then −n months is the identity."""
    assert add_months(add_months(start, months), -months) == start


@properties
@given(start=births, months=steps)
def test_month_steps_are_strictly_increasing(start, months):
    """One more month always gives a later date, even across missing days."""
    assert add_months(start, months) < add_months(start, months + 1)


# --- completed months and years -------------------------------------------------------------


@pytest.mark.parametrize(
    ("on", "months"),
    [
        (date(2025, 11, 14), 7),
        (date(2025, 11, 15), 8),
        (date(2025, 12, 14), 8),
        (date(2025, 12, 15), 9),
    ],
)
def test_child_born_15_march_is_8_months_from_15_november_to_14_december(on, months):
    """The spec's example: born 2025-03-15, 8 months old from 2025-11-15 to 2025-12-14."""
    assert completed_months(date(2025, 3, 15), on) == months


def test_completed_months_is_zero_on_the_birth_date():
    """A newborn has completed no month."""
    assert completed_months(date(2026, 1, 10), date(2026, 1, 10)) == 0


@pytest.mark.parametrize(
    ("on", "months"),
    [(date(2026, 2, 28), 0), (date(2026, 3, 1), 1), (date(2026, 3, 30), 1)],
)
def test_child_born_31_january_turns_one_month_on_1_march(on, months):
    """With no 31 February, the first month is completed on 1 March."""
    assert completed_months(date(2026, 1, 31), on) == months


def test_completed_years_the_day_before_the_birthday():
    """The day before the 50th birthday, the patient is 49."""
    assert completed_years(date(1976, 3, 15), date(2026, 3, 14)) == 49


def test_completed_years_on_the_birthday():
    """On the 50th birthday, the patient is 50."""
    assert completed_years(date(1976, 3, 15), date(2026, 3, 15)) == 50


def test_completed_years_is_zero_before_the_first_birthday():
    """A child of eleven months has completed no year."""
    assert completed_years(date(2025, 5, 1), date(2026, 4, 30)) == 0


def test_born_29_february_is_not_a_year_older_on_28_february():
    """In a common year, 28 February is still the day before the birthday."""
    assert completed_years(date(2008, 2, 29), date(2026, 2, 28)) == 17


def test_born_29_february_is_a_year_older_on_1_march_of_a_common_year():
    """The spec: the birthday of a 29 February child in a common year is 1 March."""
    assert completed_years(date(2008, 2, 29), date(2026, 3, 1)) == 18


def test_born_29_february_is_a_year_older_on_29_february_of_a_leap_year():
    """In a leap year, the birthday is 29 February itself."""
    assert completed_years(date(2008, 2, 29), date(2028, 2, 29)) == 20


@properties
@given(birth=births, months=steps)
def test_completed_months_on_the_month_birthday_is_that_number(birth, months):
    """On the day reached by stepping n months from birth, the child is n months old."""
    assert completed_months(birth, add_months(birth, months)) == months


@properties
@given(birth=births, months=steps.filter(lambda n: n > 0))
def test_completed_months_the_day_before_the_month_birthday_is_one_less(birth, months):
    """The day before the n-month birthday, the child is n − 1 months old."""
    assert completed_months(birth, add_months(birth, months) - ONE_DAY) == months - 1


@properties
@given(birth=births, years=st.integers(min_value=0, max_value=110))
def test_completed_years_on_the_birthday_is_that_number(birth, years):
    """On the n-th birthday, the person is n years old."""
    assert completed_years(birth, add_months(birth, 12 * years)) == years


@properties
@given(birth=births, years=st.integers(min_value=1, max_value=110))
def test_completed_years_the_day_before_the_birthday_is_one_less(birth, years):
    """The day before the n-th birthday, the person is n − 1 years old."""
    assert completed_years(birth, add_months(birth, 12 * years) - ONE_DAY) == years - 1


@properties
@given(birth=births, days=st.integers(min_value=0, max_value=40_000))
def test_completed_years_is_completed_months_divided_by_twelve(birth, days):
    """Years and months are counted with the same birthday convention."""
    on = birth + timedelta(days=days)
    assert completed_years(birth, on) == completed_months(birth, on) // 12


# --- last birthday --------------------------------------------------------------------------


def test_last_birthday_the_day_before_a_birthday_is_a_year_earlier():
    """On 9 June 2026, the last birthday of someone born 10 June 1990 is 10 June 2025."""
    assert last_birthday(date(1990, 6, 10), date(2026, 6, 9)) == date(2025, 6, 10)


def test_last_birthday_on_a_birthday_is_that_day():
    """On the birthday itself, it is the last birthday."""
    assert last_birthday(date(1990, 6, 10), date(2026, 6, 10)) == date(2026, 6, 10)


def test_last_birthday_in_the_first_year_is_the_birth_date():
    """Before the first birthday, the last birthday is the birth date."""
    assert last_birthday(date(2026, 1, 5), date(2026, 6, 1)) == date(2026, 1, 5)


def test_last_birthday_of_29_february_in_a_common_year_is_1_march():
    """Born 29 February: in 2026 the birthday falls on 1 March."""
    assert last_birthday(date(2008, 2, 29), date(2026, 3, 10)) == date(2026, 3, 1)


def test_last_birthday_of_29_february_on_28_february_is_the_year_before():
    """On 28 February 2026 the 2026 birthday (1 March) has not come yet."""
    assert last_birthday(date(2008, 2, 29), date(2026, 2, 28)) == date(2025, 3, 1)


@properties
@given(birth=births, days=st.integers(min_value=0, max_value=40_000))
def test_last_birthday_is_on_or_before_the_date_at_the_same_age(birth, days):
    """The last birthday is not after `on`, and the age on it is the age on `on`."""
    on = birth + timedelta(days=days)
    birthday = last_birthday(birth, on)
    assert birthday <= on
    assert completed_years(birth, birthday) == completed_years(birth, on)


# --- ages written in a pack -----------------------------------------------------------------


def test_age_in_years_is_read_as_months():
    """`65y` is 780 months."""
    assert Age.parse("65y") == Age(780)


def test_age_in_months_is_read_as_months():
    """`6m` is 6 months."""
    assert Age.parse("6m") == Age(6)


@pytest.mark.parametrize(
    "text", ["65 ans", "", "y", "65", "6d", "-6m", "6.5y", "65Y", " 65y", "65y "]
)
def test_age_not_written_as_years_or_months_is_refused(text):
    """Only `<digits>y` and `<digits>m` are ages."""
    with pytest.raises(AgeSpecError, match="invalide"):
        Age.parse(text)


def test_age_with_a_superscript_digit_is_refused():
    """`²y` is not an age."""
    with pytest.raises(AgeSpecError):
        Age.parse("²y")


@pytest.mark.parametrize("text", ["65y", "6m", "35m"])
def test_age_prints_as_the_pack_writes_it(text):
    """An age reads back in the pack's notation."""
    assert str(Age.parse(text)) == text


def test_whole_years_written_in_months_print_as_years():
    """`24m` and `2y` are the same age, printed `2y`."""
    assert (Age.parse("24m"), str(Age.parse("24m"))) == (Age.parse("2y"), "2y")


def test_ages_are_ordered_by_duration():
    """`11m` is less than `1y`."""
    assert Age.parse("11m") < Age.parse("1y")


def test_age_birthday_is_a_month_step_from_birth():
    """The 65y birthday of someone born 29 February 1960 is 1 March 2025."""
    assert Age.parse("65y").birthday(date(1960, 2, 29)) == date(2025, 3, 1)


@pytest.mark.parametrize(
    ("on", "expected"), [(date(2025, 9, 14), False), (date(2025, 9, 15), True)]
)
def test_age_is_reached_on_its_birthday(on, expected):
    """A child born 15 March 2025 reaches 6 months on 15 September 2025."""
    assert reached(date(2025, 3, 15), Age.parse("6m"), on) is expected
