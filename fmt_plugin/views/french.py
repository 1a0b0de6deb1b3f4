"""French renderings of dates, ages, counts, statuses and evidence sources for the practice's views.

The one place where the practice's numbers, amounts, dates, local times and durations get their
French form: every view (terminal, files, letters, pages) calls these, so `37,7 %`, `8 505 €`,
`15/03/2026` and "en retard depuis 3 mois" read the same everywhere.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from fmt_plugin.rules.dates import Age, completed_months
from fmt_plugin.rules.model import EvidenceSource
from fmt_plugin.timezone import PARIS

if TYPE_CHECKING:
    from fmt_plugin.rules.pack import AgeBounds

#: The narrow no-break space French typography puts between thousands and before `%` / `€`.
THIN_SPACE = "\u202f"
#: The no-break space before `:` and `;` (and inside guillemets) in running text.
NBSP = "\u00a0"

MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)

SOURCE_LABELS = {
    EvidenceSource.HL7: "reçu du laboratoire ou du vaccinateur (HL7)",
    EvidenceSource.EHR: "dossier médical",
    EvidenceSource.DECLARATION: "déclaré fait ailleurs par le cabinet",
}


def number(value: int) -> str:
    """French thousands grouping with a narrow no-break space: 100 000."""
    return f"{value:,}".replace(",", THIN_SPACE)


def count(value: int, one: str, several: str) -> str:
    """`1 patient`, `0 patient`, `1 500 patients`: French puts 0 and 1 in the singular."""
    return f"{number(value)} {one if value < 2 else several}"


def percent(rate: float | None) -> str:
    """`51,2 %` (French decimal comma); `—` when nobody counts."""
    if rate is None:
        return "—"
    return f"{rate * 100:.1f} %".replace(".", ",")


def points(change: float) -> str:
    """`+2,5 pts`: a change of taux, in percentage points, always signed."""
    return f"{change * 100:+.1f} pts".replace(".", ",")


def euros(amount: float | Decimal) -> str:
    """`8 505 €`, and `12,50 €` when there are cents."""
    cents = round(Decimal(str(amount)) * 100)
    whole, rest = divmod(abs(cents), 100)
    sign = "-" if cents < 0 else ""
    text = sign + number(int(whole))
    if rest:
        text += f",{rest:02d}"
    return f"{text}{THIN_SPACE}€"


def day(value: date) -> str:
    """`15/03/2026` (JJ/MM/AAAA, as French forms and spreadsheets write dates)."""
    return f"{value.day:02d}/{value.month:02d}/{value.year:04d}"


def local_time(moment: datetime) -> str:
    """`15/03/2026 14:05`: an instant as the clock on the practice's wall showed it.

    A naive `moment` is refused: whether it is UTC or local cannot be guessed.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("local_time needs a timezone-aware datetime")
    local = moment.astimezone(PARIS)
    return f"{day(local.date())} {local.hour:02d}:{local.minute:02d}"


def duration(start: date, end: date) -> str:
    """The time from `start` to `end` as a person says it: `3 jours`, `5 mois`, `14 ans`.

    Days under a month, months under two years, then years (completed ones: 23 months is
    `23 mois`, not `2 ans`). `start` after `end` is measured the other way round.
    """
    if start > end:
        start, end = end, start
    months = completed_months(start, end)
    if months < 1:
        days = (end - start).days
        return "1 jour" if days == 1 else f"{days} jours"
    if months < 24:
        return f"{months} mois"
    return f"{months // 12} ans"


def elapsed(seconds: float) -> str:
    """How long a command took or has been running: `4,2 s`, `12 s`, `2 min 05 s`, `1 h 02 min`.

    Tenths only under ten seconds, and not for whole seconds (a progress line shows `3 s`).
    """
    tenths = round(seconds, 1)
    if tenths < 10:
        return f"{tenths:g} s".replace(".", ",")
    whole = int(tenths)
    if whole < 60:
        return f"{whole} s"
    minutes, rest = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def overdue(due: date, as_of: date) -> str:
    """`en retard depuis 3 mois` for an act due on `due`; `à faire dès aujourd'hui` on the day.

    Never "0 jours": an act that falls due today is not late yet.
    """
    if due >= as_of:
        return "à faire dès aujourd'hui" if due == as_of else f"à faire le {day(due)}"
    return f"en retard depuis {duration(due, as_of)}"


def month(value: date) -> str:
    """`juin 2028` (amelipro's "Prochain dépistage à prévoir : juin 2028")."""
    return f"{MONTHS[value.month - 1]} {value.year}"


def long_day(value: date) -> str:
    """`15 mars 2026`, and `1er mars 2026` for the first of the month (letters to patients)."""
    first = "1er" if value.day == 1 else str(value.day)
    return f"{first} {MONTHS[value.month - 1]} {value.year}"


#: A space before `:` `;` `?` `!` `»`, or after `«`: French typography makes it non-breaking.
_BREAKABLE_PUNCTUATION_SPACE = re.compile(r" +(?=[:;?!»])|(?<=«) +")


def nonbreaking_punctuation(text: str) -> str:
    """`Rappel : oui` with a no-break space, so `:` `;` `?` `!` `»` never start a line.

    Only spaces already there are changed (`12:30` and `https://` stay as they are).
    """
    return _BREAKABLE_PUNCTUATION_SPACE.sub(NBSP, text)


def age(years: int, months: int) -> str:
    """`55 ans`, or `8 mois` under two years (child indicators count in months)."""
    if years < 2:
        return f"{months} mois"
    return f"{years} ans"


def age_bounds(bounds: AgeBounds) -> str:
    """`de 50 à 74 ans`, `65 ans et plus`, `jusqu'à 35 mois`: the ages, bounds included.

    The maximum reads as the pack writes it (`35m` is "35 mois", never "moins de 3 ans");
    bounds with no written maximum read "moins de …". "" when there is no bound.
    """
    low = _age_words(bounds.minimum, in_years=None) if bounds.minimum else None
    if bounds.maximum is not None:
        high = _age_words(bounds.maximum, in_years=bounds.maximum_in_years)
    elif bounds.until is not None:
        high = f"moins de {_age_words(bounds.until, in_years=None)}"
    else:
        high = None
    if low and high:
        low_number, _, low_unit = low.partition(" ")
        high_number, _, high_unit = high.partition(" ")
        if low_unit == high_unit and high_number.isdigit():
            return f"de {low_number} à {high}"
        return f"de {low} à {high}"
    if low:
        return f"{low} et plus"
    if high:
        return f"jusqu'à {high}"
    return ""


def _age_words(value: Age, *, in_years: bool | None) -> str:
    """`65 ans`, `1 an`, `6 mois`; `in_years=None`: years when the months make whole years."""
    if in_years is None:
        in_years = value.months >= 12 and value.months % 12 == 0
    if not in_years:
        return f"{value.months} mois"
    years = value.months // 12
    return "1 an" if years == 1 else f"{years} ans"


def nir(ins: str | None) -> str:
    """`1 48 08 09 056 206 59`: the NIR's groups as on the carte Vitale; `—` when unknown."""
    if not ins or len(ins) != 15:
        return ins or "—"
    groups = (ins[0], ins[1:3], ins[3:5], ins[5:7], ins[7:10], ins[10:13], ins[13:15])
    return " ".join(groups)
