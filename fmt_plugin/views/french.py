"""French renderings of dates, ages, counts, statuses and evidence sources for the practice's views."""

from __future__ import annotations

from datetime import date

from fmt_plugin.rules.model import EvidenceSource

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
    return f"{value:,}".replace(",", "\u202f")


def percent(rate: float | None) -> str:
    """`51,2 %` (French decimal comma); `—` when nobody counts."""
    if rate is None:
        return "—"
    return f"{rate * 100:.1f} %".replace(".", ",")


def day(value: date) -> str:
    """`15/03/2026`."""
    return value.strftime("%d/%m/%Y")


def month(value: date) -> str:
    """`juin 2028` (amelipro's "Prochain dépistage à prévoir : juin 2028")."""
    return f"{MONTHS[value.month - 1]} {value.year}"


def age(years: int, months: int) -> str:
    """`55 ans`, or `8 mois` under two years (child indicators count in months)."""
    if years < 2:
        return f"{months} mois"
    return f"{years} ans"


def nir(ins: str | None) -> str:
    """`1 48 08 09 056 206 59`: the NIR's groups as on the carte Vitale; `—` when unknown."""
    if not ins or len(ins) != 15:
        return ins or "—"
    groups = (ins[0], ins[1:3], ins[3:5], ins[5:7], ins[7:10], ins[10:13], ins[13:15])
    return " ".join(groups)
