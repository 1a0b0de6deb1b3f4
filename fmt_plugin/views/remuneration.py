"""The FMT remuneration estimate of `fmt-plugin remuneration`: table, JSON and CSV.

The table speaks to the practice (French amounts `8 505 €`, dates `JJ/MM/AAAA`); the JSON is
for integrations (amounts as numbers of euros, dates ISO); the CSV is for French Excel like the
report's (`;`, UTF-8 with a BOM, French headers, decimal comma). Patients appear by internal id
only, with their age at 31/12 of N-1: no name, no NIR, no birth date.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from fmt_plugin.remuneration.estimate import (
    Payment,
    RemunerationEstimate,
    SocleLine,
    reference_day,
)
from fmt_plugin.views import french
from fmt_plugin.views.fitted_table import fitted_table

COMPONENT_LABELS = {
    "socle": "Forfait socle",
    "socle_majoration": "Majoration du socle",
    "prevention": "Majoration prévention",
}
PAYMENT_LABELS = {
    "socle": "forfait socle et sa majoration (un quart)",
    "prevention": "majoration prévention",
}
COMPONENT_COLUMNS = ("Composante", "Acquis (€)", "Possible en plus (€)", "Versement")


@dataclass(frozen=True)
class RemunerationView:
    """What to render: the estimate, the date it was asked for, and whether per patient."""

    estimate: RemunerationEstimate
    as_of: date
    patients: bool = False
    width: int | None = None


def _yes_no(value: bool) -> str:
    return "oui" if value else "non"


def _age(years: int | None) -> str:
    """`77 ans`, `1 an`, `moins d'un an`; `—` when unknown."""
    if years is None:
        return "—"
    return {0: "moins d'un an", 1: "1 an"}.get(years, f"{years} ans")


NO_SOCLE_LABELS = {
    "unknown_birth_date": "pas de socle : date de naissance inconnue",
    "born_after": "pas de socle : né(e) après le 31/12",
}


def _band_label(line: SocleLine) -> str:
    if line.band is not None:
        return line.band.label
    return NO_SOCLE_LABELS.get(line.no_socle, "pas de socle")


def majoration_label(estimate: RemunerationEstimate) -> str:
    """`Zone ZIP, +10 %`, `(non confirmée)` when the grid says so; `aucune` without one."""
    majoration = estimate.majoration
    if majoration is None:
        return "aucune"
    label = f"{majoration.label}, +{majoration.percent} %"
    return label if majoration.confirmed else f"{label} (non confirmée)"


def payment_period(payment: Payment) -> str:
    """`avril 2026`, or `janvier à juin 2027` for a payment over several months."""
    if payment.first_day.month == payment.last_day.month:
        return french.month(payment.first_day)
    first = french.MONTHS[payment.first_day.month - 1]
    return f"{first} à {french.month(payment.last_day)}"


def _socle_months(estimate: RemunerationEstimate) -> str:
    names = [french.MONTHS[m - 1] for m in estimate.grid.socle_payment_months]
    listed = ", ".join(names[:-1]) + f" et {names[-1]}" if len(names) > 1 else names[0]
    return f"{listed} {estimate.year}"


def _prevention_period(estimate: RemunerationEstimate) -> str:
    return payment_period(estimate.payments[-1])


def components(
    estimate: RemunerationEstimate,
) -> list[tuple[str, Decimal, Decimal, str]]:
    """(component, earned, possible in addition, when paid) of each component."""
    return [
        ("socle", estimate.socle, Decimal(0), _socle_months(estimate)),
        (
            "socle_majoration",
            estimate.socle_majoration,
            Decimal(0),
            "avec le forfait socle",
        ),
        (
            "prevention",
            estimate.prevention_earned,
            estimate.prevention_possible,
            _prevention_period(estimate),
        ),
    ]


# --- table ----------------------------------------------------------------------------------


def render_table(view: RemunerationView) -> str:
    """Components, payment calendar, socle by band (and per patient), then the notes."""
    estimate = view.estimate
    lines = [*_heading(view), "", *_component_lines(view), ""]
    lines += ["Calendrier des versements", *_calendar_lines(view), ""]
    lines += [
        f"Forfait socle par tranche (situation au {french.day(reference_day(estimate.year))})",
        *_band_lines(view),
        "",
    ]
    if view.patients:
        lines += ["Forfait socle par patient", *_patient_lines(view), ""]
    lines += ["Notes", *_notes(estimate)]
    return "\n".join(lines) + "\n"


def _heading(view: RemunerationView) -> list[str]:
    estimate = view.estimate
    return [
        f"Rémunération FMT {estimate.year} — estimation au {french.day(view.as_of)}",
        (
            f"Grille {estimate.grid.id} (version {estimate.grid.version}) ; "
            f"{french.count(len(estimate.lines), 'patient', 'patients')} ; "
            f"majoration du socle : {majoration_label(estimate)}"
        ),
    ]


def _component_lines(view: RemunerationView) -> list[str]:
    estimate = view.estimate
    rows = [["Composante", "Acquis", "Possible en plus", "Versement"]]
    for component, earned, possible, when in components(estimate):
        rows.append(
            [
                COMPONENT_LABELS[component],
                french.euros(earned),
                french.euros(possible) if component == "prevention" else "—",
                when,
            ]
        )
    rows.append(
        [
            "Total",
            french.euros(estimate.total),
            french.euros(estimate.prevention_possible),
            "",
        ]
    )
    return fitted_table(rows, view.width, shrinkable=(3,))


def _calendar_lines(view: RemunerationView) -> list[str]:
    rows = [["Période", "Montant", "Composante", "État"]]
    for payment in view.estimate.payments:
        amount = french.euros(payment.amount)
        if payment.possible is not None and payment.possible != payment.amount:
            amount += f" (jusqu'à {french.euros(payment.possible)})"
        state = "passé" if payment.is_past(view.as_of) else "à venir"
        rows.append(
            [payment_period(payment), amount, PAYMENT_LABELS[payment.component], state]
        )
    return fitted_table(rows, view.width, shrinkable=(2,))


def _band_lines(view: RemunerationView) -> list[str]:
    rows = [["Tranche", "Patients", "Montant"]]
    for label, patients, amount in band_totals(view.estimate):
        rows.append([label, french.number(patients), french.euros(amount)])
    return fitted_table(rows, view.width, shrinkable=(0,))


def band_totals(estimate: RemunerationEstimate) -> list[tuple[str, int, Decimal]]:
    """(band label, patients, amount) in the grid's order, then the C2S supplement."""
    totals = []
    for band in estimate.grid.bands:
        inside = [line for line in estimate.lines if line.band == band]
        totals.append((band.label, len(inside), band.amount * len(inside)))
    with_c2s = sum(1 for line in estimate.lines if line.c2s and line.band is not None)
    supplement = estimate.grid.c2s_supplement
    totals.append(
        (
            f"Supplément C2S (+{french.euros(supplement)})",
            with_c2s,
            supplement * with_c2s,
        )
    )
    return totals


def _patient_lines(view: RemunerationView) -> list[str]:
    day = french.day(reference_day(view.estimate.year))
    rows = [["Patient", f"Âge au {day}", "ALD", "C2S", "Tranche", "Montant"]]
    for line in view.estimate.lines:
        rows.append(
            [
                line.patient_id,
                _age(line.age),
                _yes_no(line.ald),
                _yes_no(line.c2s),
                _band_label(line),
                french.euros(line.amount),
            ]
        )
    return fitted_table(rows, view.width, shrinkable=(4,))


def _notes(estimate: RemunerationEstimate) -> list[str]:
    return [f"- {note}" for note in notes(estimate)]


def notes(estimate: RemunerationEstimate) -> list[str]:
    """What the amounts rest on, one sentence each (the table lists them under "Notes")."""
    prevention = estimate.prevention
    day = french.day(reference_day(estimate.year))
    sentences = [
        (
            f"Majoration prévention : "
            f"{french.count(prevention.fait, 'indicateur', 'indicateurs')} « Fait » au "
            f"{french.day(estimate.evaluated_on)} × {french.euros(prevention.fee_eur)} ; "
            f"{french.number(prevention.a_verifier)} « À vérifier » rapporteraient "
            f"{french.euros(estimate.prevention_possible)} de plus s'ils étaient faits."
        ),
        (
            f"Forfait socle : âge, ALD et C2S au {day} ; ALD et C2S sont ceux de la "
            "patientèle actuelle."
        ),
        "Majorations du socle non cumulables : seule la plus forte s'applique.",
    ]
    unknown = sum(1 for line in estimate.lines if line.age is None)
    if unknown:
        sentences.append(
            f"{french.count(unknown, 'patient', 'patients')} sans forfait socle "
            f"(date de naissance inconnue ou postérieure au {day})."
        )
    return sentences


# --- JSON -----------------------------------------------------------------------------------


def _json_eur(amount: Decimal) -> int | float:
    """Euros as a JSON number: an integer when whole, else to the cent."""
    return (
        int(amount) if amount == amount.to_integral_value() else float(round(amount, 2))
    )


def render_json(view: RemunerationView) -> str:
    """The estimate as JSON; `patients` (the per-patient detail) only with `--patients`."""
    estimate = view.estimate
    majoration = estimate.majoration
    document: dict[str, Any] = {
        "year": estimate.year,
        "as_of": view.as_of.isoformat(),
        "evaluated_on": estimate.evaluated_on.isoformat(),
        "situation_on": reference_day(estimate.year).isoformat(),
        "grid": estimate.grid.id,
        "grid_version": estimate.grid.version,
        "patient_count": len(estimate.lines),
        "socle": {"earned_eur": _json_eur(estimate.socle)},
        "socle_majoration": {
            "id": majoration.id if majoration else None,
            "label": majoration.label if majoration else None,
            "percent": majoration.percent if majoration else 0,
            "confirmed": majoration.confirmed if majoration else True,
            "earned_eur": _json_eur(estimate.socle_majoration),
        },
        "prevention": {
            **estimate.prevention.to_dict(),
            "earned_eur": _json_eur(estimate.prevention_earned),
            "possible_eur": _json_eur(estimate.prevention_possible),
        },
        "total_eur": _json_eur(estimate.total),
        "payments": [_payment_dict(p, view.as_of) for p in estimate.payments],
        "bands": [
            {"label": label, "patients": patients, "amount_eur": _json_eur(amount)}
            for label, patients, amount in band_totals(estimate)
        ],
    }
    if view.patients:
        document["patients"] = [_line_dict(line) for line in estimate.lines]
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def _payment_dict(payment: Payment, as_of: date) -> dict[str, Any]:
    return {
        "component": payment.component,
        "from": payment.first_day.isoformat(),
        "to": payment.last_day.isoformat(),
        "amount_eur": _json_eur(payment.amount),
        "possible_eur": None
        if payment.possible is None
        else _json_eur(payment.possible),
        "past": payment.is_past(as_of),
    }


def _line_dict(line: SocleLine) -> dict[str, Any]:
    return {
        "patient_id": line.patient_id,
        "age": line.age,
        "ald": line.ald,
        "c2s": line.c2s,
        "band": line.band.id if line.band else None,
        "amount_eur": _json_eur(line.amount),
    }


# --- CSV ------------------------------------------------------------------------------------


def _csv_eur(amount: Decimal) -> str:
    """`2126,25`: a number French Excel reads as one (no `€`, no thousands separator)."""
    return f"{amount:.2f}".replace(".", ",")


def render_csv(view: RemunerationView) -> str:
    """One row per component, or with `--patients` one row per patient: `;`, UTF-8 BOM."""
    out = io.StringIO()
    out.write(
        "\ufeff"
    )  # Excel reads UTF-8 only with it (see practice_report.render_csv)
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    estimate = view.estimate
    if view.patients:
        day = french.day(reference_day(estimate.year))
        writer.writerow(
            ("Patient", f"Âge au {day}", "ALD", "C2S", "Tranche", "Montant (€)")
        )
        for line in estimate.lines:
            writer.writerow(
                (
                    line.patient_id,
                    "" if line.age is None else line.age,
                    _yes_no(line.ald),
                    _yes_no(line.c2s),
                    _band_label(line),
                    _csv_eur(line.amount),
                )
            )
        return out.getvalue()
    writer.writerow(COMPONENT_COLUMNS)
    for component, earned, possible, when in components(estimate):
        writer.writerow(
            (COMPONENT_LABELS[component], _csv_eur(earned), _csv_eur(possible), when)
        )
    return out.getvalue()


RENDERERS: dict[str, Callable[[RemunerationView], str]] = {
    "table": render_table,
    "json": render_json,
    "csv": render_csv,
}
