"""The "Suivi prévention" of one patient: every indicator, its status, next date and acts.

Modelled on amelipro's patient view: per indicator, the status, "Prochain dépistage à prévoir :
juin 2028", and the dated acts that explain it, with where each one comes from.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from fmt_plugin.model import Patient
from fmt_plugin.rules.dates import completed_months, completed_years
from fmt_plugin.rules.model import (
    Evidence,
    EvidenceSource,
    IndicatorStatus,
    Override,
    OverrideKind,
    PatientEvaluation,
    Status,
)
from fmt_plugin.rules.pack import (
    Indicator,
    Markers,
    Membership,
    RulePack,
    SeasonalRule,
)
from fmt_plugin.views import french
from fmt_plugin.views.rule_pack_summary import campaign_text

GROUP_TITLES = {
    "vaccination": "Vaccinations",
    "depistage": "Dépistages",
    "suivi": "Suivi",
}
NEXT_WORDS = {
    "vaccination": "Prochaine vaccination à prévoir",
    "depistage": "Prochain dépistage à prévoir",
    "suivi": "Prochain examen à prévoir",
}
OVERRIDE_LABELS = {
    "exclusion": "exclusion médicale",
    "refus": "refus du patient",
    "report": "report des rappels",
    "fait_ailleurs": "fait ailleurs",
}
SEX_WORDS = {"F": "femme", "M": "homme"}
RETIRED_LINE = (
    "Patient sorti de la patientèle (absent du dernier export du logiciel médical) : "
    "plus de rappel, ni de place dans les taux."
)


def render_patient_sheet(
    pack: RulePack,
    patient: Patient,
    evaluation: PatientEvaluation,
    overrides: Sequence[Override] = (),
    *,
    retired: bool = False,
) -> str:
    """The French text of the patient's prevention follow-up at `evaluation.as_of`.

    `retired`: the patient left the practice's roster; the sheet says so first.
    """
    as_of = evaluation.as_of
    lines = [f"Suivi prévention — {_identity(patient, evaluation)}"]
    lines.append(f"Au {french.day(as_of)} (jeu de règles {pack.id} {pack.version})")
    if retired:
        lines.append(RETIRED_LINE)
    if patient.opposition:
        lines.append(
            "Opposition aux rappels enregistrée : aucun rappel ne sera envoyé."
        )
    if not evaluation.statuses:
        lines += [
            "",
            "Aucun indicateur de prévention ne concerne ce patient à cette date.",
        ]
    for group, title in GROUP_TITLES.items():
        indicators = [
            i
            for i in pack.indicators
            if i.group == group and i.id in evaluation.statuses
        ]
        if not indicators:
            continue
        lines += ["", title]
        for indicator in indicators:
            status = evaluation.statuses[indicator.id]
            membership = indicator.population.membership(patient, as_of)
            campaign = (
                campaign_text(pack.seasons, as_of)
                if isinstance(indicator.rule, SeasonalRule)
                else None
            )
            lines += _indicator_lines(
                indicator, status, membership, overrides, as_of, campaign
            )
    if overrides:
        lines += ["", "Décisions du cabinet"]
        lines += [_override_line(pack, o) for o in overrides]
    return "\n".join(lines) + "\n"


def _identity(patient: Patient, evaluation: PatientEvaluation) -> str:
    name = " ".join(part for part in (patient.nom, patient.prenom) if part)
    text = f"{name} ({patient.patient_id})" if name else patient.patient_id
    if patient.birth_date is not None:
        years = completed_years(patient.birth_date, evaluation.as_of)
        months = completed_months(patient.birth_date, evaluation.as_of)
        text += (
            f", né(e) le {french.day(patient.birth_date)}, {french.age(years, months)}"
        )
    return text


def _indicator_lines(
    indicator: Indicator,
    status: IndicatorStatus,
    membership: Membership | None,
    overrides: Sequence[Override],
    as_of: date,
    campaign: str | None = None,
) -> list[str]:
    """The indicator's header, why the patient is concerned, the flu/covid campaign it is
    about (and whether its dates are sure), the status's details and the acts."""
    lines = [f"  {indicator.label} : {status.label}"]
    why = membership_text(membership) if membership is not None else ""
    if why:
        lines.append(f"    Concerné(e) : {why}")
    if campaign is not None:
        lines.append(f"    {campaign}")
    lines += [f"    {line}" for line in _status_details(indicator, status, as_of)]
    if status.evidence:
        lines += [
            f"    • {_evidence_text(item, overrides)}" for item in status.evidence
        ]
    elif status.status is not Status.EXCLU:
        lines.append("    • Aucun acte retrouvé")
    return lines


def membership_text(membership: Membership) -> str:
    """`femme, de 50 à 74 ans`, `18 ans et plus, ALD n° 8`, `diagnostic E11.9`."""
    parts = []
    if membership.sex is not None:
        parts.append(SEX_WORDS[membership.sex])
    parts += [french.age_bounds(bounds) for bounds in membership.ages]
    parts += _marker_words(membership.markers)
    return ", ".join(part for part in parts if part)


def _marker_words(markers: Markers) -> list[str]:
    ald = [f"ALD n° {_listed([str(n) for n in markers.ald])}"] if markers.ald else []
    return (
        ald
        + [f"diagnostic {code}" for code in markers.conditions]
        + [f"marqueur « {flag} »" for flag in markers.flags]
    )


def _listed(items: Sequence[str]) -> str:
    """`8`, `8 et 13`, `5, 8 et 13`."""
    if len(items) < 2:
        return "".join(items)
    return f"{', '.join(items[:-1])} et {items[-1]}"


def _evidence_text(item: Evidence, overrides: Sequence[Override]) -> str:
    """`15/03/2026 — Mammographie (CCAM QEQK004), dossier médical`, or a declaration."""
    if item.source is EvidenceSource.DECLARATION:
        return _declaration_text(item, overrides)
    label = item.label or f"{item.system} {item.code}"
    source = french.SOURCE_LABELS[item.source]
    return f"{french.day(item.date)} — {label} ({item.system} {item.code}), {source}"


def _declaration_text(item: Evidence, overrides: Sequence[Override]) -> str:
    """`Déclaré fait ailleurs le 01/06/2025 (décision n° 1 du 15/03/2026 par Dr Martin)`."""
    text = f"Déclaré fait ailleurs le {french.day(item.date)}"
    decision = next(
        (
            o
            for o in overrides
            if o.kind is OverrideKind.FAIT_AILLEURS
            and o.indicator == item.indicator
            and o.date == item.date
        ),
        None,
    )
    if decision is not None:
        text += (
            f" (décision n° {decision.override_id} du "
            f"{french.day(decision.recorded_on)} par {decision.author})"
        )
    return text


def _status_details(
    indicator: Indicator, status: IndicatorStatus, as_of: date
) -> list[str]:
    details: list[str] = []
    due = status.due
    if status.status is Status.FAIT:
        if due is None:
            details.append("À jour, rien d'autre à prévoir pour cet indicateur")
        else:
            details.append(f"{NEXT_WORDS[indicator.group]} : {french.month(due)}")
    elif status.status is Status.A_VERIFIER and due is not None:
        details.append(_overdue_text(due, as_of))
    elif status.status is Status.A_VENIR and due is not None:
        details.append(f"À faire à partir du {french.day(due)}")
    elif status.status is Status.EXCLU:
        until = f", jusqu'au {french.day(due)}" if due else ""
        details.append(f"Exclu : {status.reason}{until}")
    if status.reason and status.status in (Status.A_VERIFIER, Status.A_VENIR):
        details.append(status.reason)
    if status.window_closed is not None:
        details.append(
            f"Fenêtre d'âge fermée le {french.day(status.window_closed)} : rattrapage, "
            "l'acte ne compte plus pour le FMT"
        )
    if status.due_soon:
        details.append("Échéance dans moins de 30 jours")
    if status.refused:
        details.append("Refus du patient enregistré : pas de rappel")
    if status.hors_fmt:
        details.append(
            "Hors FMT : recommandé pour ce patient, mais ne compte pas dans le forfait"
        )
    if status.recall_postponed_until is not None:
        details.append(
            f"Rappels reportés au {french.day(status.recall_postponed_until)}"
        )
    return details


def _overdue_text(due: date, as_of: date) -> str:
    """`À faire depuis le 15/12/2025 (en retard depuis 3 mois)`; due today: no delay told."""
    if due >= as_of:
        words = french.overdue(due, as_of)
        return words[0].upper() + words[1:]
    return f"À faire depuis le {french.day(due)} ({french.overdue(due, as_of)})"


def _override_line(pack: RulePack, override: Override) -> str:
    try:
        label = pack.indicator(override.indicator).label
    except KeyError:
        label = override.indicator
    text = (
        f"  n° {override.override_id} — {label} : {OVERRIDE_LABELS[str(override.kind)]}"
    )
    if override.date is not None:
        text += f" ({french.day(override.date)})"
    text += f", par {override.author} le {french.day(override.recorded_on)}"
    if override.expires is not None:
        text += f", jusqu'au {french.day(override.expires)}"
    if override.reason:
        text += f" — « {override.reason} »"
    return text
