"""Calendar arithmetic of the rules: month steps, birthdays, completed ages.

One convention everywhere (indicators.md, section 1): when a month step lands on a day the
target month does not have (31 April, 29 February of a common year), the date is the first day
of the next month. A child born on 29 February turns one on 1 March; "last result + 6 months"
from 31 August is 1 March. Using the same step for birthdays and for windows keeps a status and
its due date consistent: evidence counts exactly while its due date is after `as_of`.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from fmt_plugin.errors import FmtError

_AGE = re.compile(r"([0-9]{1,3})([ym])")


class AgeSpecError(FmtError):
    """An age written in a rule pack is not `<number>y` or `<number>m`."""


def add_months(start: date, months: int) -> date:
    """`start` moved by `months` calendar months (negative allowed), see the module docstring."""
    index = start.year * 12 + (start.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    last_day = calendar.monthrange(year, month)[1]
    if start.day <= last_day:
        return date(year, month, start.day)
    return date(year, month, last_day) + timedelta(days=1)


@dataclass(frozen=True, order=True)
class Age:
    """An age in months; the pack writes it `65y` or `6m`."""

    months: int

    @classmethod
    def parse(cls, text: str) -> Age:
        """Read `<n>y` (years) or `<n>m` (months); raise AgeSpecError otherwise."""
        match = _AGE.fullmatch(text)
        if match is None:
            raise AgeSpecError(
                f"âge « {text} » invalide : attendu par exemple « 65y » ou « 6m »"
            )
        number, unit = match.groups()
        return cls(int(number) * (12 if unit == "y" else 1))

    def birthday(self, birth_date: date) -> date:
        """The day the person born on `birth_date` reaches this age."""
        return add_months(birth_date, self.months)

    def __str__(self) -> str:
        if self.months % 12 == 0:
            return f"{self.months // 12}y"
        return f"{self.months}m"


def reached(birth_date: date, age: Age, on: date) -> bool:
    """True when the person has reached `age` on the date `on`."""
    return age.birthday(birth_date) <= on


def completed_years(birth_date: date, on: date) -> int:
    """Age in completed years on `on` (0 before the first birthday)."""
    years = on.year - birth_date.year
    if add_months(birth_date, 12 * years) > on:
        years -= 1
    return years


def completed_months(birth_date: date, on: date) -> int:
    """Age in completed months on `on`."""
    months = (on.year - birth_date.year) * 12 + (on.month - birth_date.month)
    if add_months(birth_date, months) > on:
        months -= 1
    return months


def last_birthday(birth_date: date, on: date) -> date:
    """The most recent birthday on or before `on` (the birth date itself in the first year)."""
    return add_months(birth_date, 12 * max(completed_years(birth_date, on), 0))
