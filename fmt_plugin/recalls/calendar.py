"""When recalls may go out: French public holidays and the practice's sending hours.

Pure date arithmetic on Europe/Paris calendar dates; callers pass the moment.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import cache

from fmt_plugin.config import WEEKDAYS, RecallSettings
from fmt_plugin.timezone import PARIS


def easter_sunday(year: int) -> date:
    """Gregorian Easter Sunday (the anonymous Gregorian algorithm, "Meeus/Jones/Butcher")."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    leap = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * leap) // 451
    month, day = divmod(h + leap - 7 * m + 114, 31)
    return date(year, month, day + 1)


@cache
def french_public_holidays(
    year: int, *, alsace_moselle: bool = False
) -> frozenset[date]:
    """The eleven jours fériés of metropolitan France (Code du travail, L3133-1).

    With `alsace_moselle`, Good Friday and 26 December too (local law of Alsace-Moselle).
    """
    easter = easter_sunday(year)
    days = {
        date(year, 1, 1),  # Jour de l'an
        easter + timedelta(days=1),  # Lundi de Pâques
        date(year, 5, 1),  # Fête du Travail
        date(year, 5, 8),  # Victoire 1945
        easter + timedelta(days=39),  # Ascension
        easter + timedelta(days=50),  # Lundi de Pentecôte
        date(year, 7, 14),  # Fête nationale
        date(year, 8, 15),  # Assomption
        date(year, 11, 1),  # Toussaint
        date(year, 11, 11),  # Armistice
        date(year, 12, 25),  # Noël
    }
    if alsace_moselle:
        days |= {easter - timedelta(days=2), date(year, 12, 26)}
    return frozenset(days)


def is_public_holiday(day: date, settings: RecallSettings) -> bool:
    """True on a public holiday of the practice's region."""
    return day in french_public_holidays(
        day.year, alsace_moselle=settings.alsace_moselle
    )


def is_planning_day(day: date, settings: RecallSettings) -> bool:
    """True on a working day of the practice: a planning day that is not a holiday."""
    weekday = WEEKDAYS[day.weekday()]
    return weekday in settings.planning_days and not is_public_holiday(day, settings)


def may_send_at(moment: datetime, settings: RecallSettings) -> bool:
    """True when a recall may be delivered at `moment` (aware): sending day and hours."""
    local = moment.astimezone(PARIS)
    day = local.date()
    if WEEKDAYS[day.weekday()] not in settings.sending_days:
        return False
    if is_public_holiday(day, settings):
        return False
    return settings.sending_from <= local.time() < settings.sending_until
