"""The "Suivi prévention" of one patient: every indicator, its status, next date and acts.

Modelled on amelipro's patient view: per indicator, the status, "Prochain dépistage à prévoir :
juin 2028", and the dated acts that explain it, with where each one comes from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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
OPPOSITION_LINE = "Opposition aux rappels enregistrée : aucun rappel ne sera envoyé."
NOTHING_LINE = "Aucun indicateur de prévention ne concerne ce patient à cette date."
NO_ACT_LINE = "Aucun acte retrouvé"


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
    lines.append(f"Au {french.day(as_of)} ({pack_text(pack)})")
    if retired:
        lines.append(RETIRED_LINE)
    if patient.opposition:
        lines.append(OPPOSITION_LINE)
    if not evaluation.statuses:
        lines += ["", NOTHING_LINE]
    for title, sheets in indicator_groups(pack, patient, evaluation, overrides):
        lines += ["", title]
        for sheet in sheets:
            lines += _indicator_lines(sheet)
    if overrides:
        lines += ["", "Décisions du cabinet"]
        lines += [f"  {override_text(pack, o)}" for o in overrides]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class IndicatorSheet:
    """What the follow-up says of one indicator, in French, for the terminal and the pages."""

    indicator: Indicator
    status: IndicatorStatus
    #: Why the patient is concerned (`femme, de 50 à 74 ans`); "" when the pack says nothing.
    concerned: str
    #: The flu/covid campaign a seasonal indicator is about, and whether its dates are sure.
    campaign: str | None
    #: The status's details: "Prochain dépistage à prévoir : juin 2028", the delay, …
    details: tuple[str, ...]
    #: The acts behind the status, dated and coded, newest first.
    acts: tuple[str, ...]

    @property
    def says_no_act(self) -> bool:
        """True when the sheet says "Aucun acte retrouvé" (never for an exclusion)."""
        return not self.acts and self.status.status is not Status.EXCLU


def pack_text(pack: RulePack) -> str:
    """`jeu de règles fmt-2026 1.0`."""
    return f"jeu de règles {pack.id} {pack.version}"


def indicator_groups(
    pack: RulePack,
    patient: Patient,
    evaluation: PatientEvaluation,
    overrides: Sequence[Override] = (),
) -> list[tuple[str, list[IndicatorSheet]]]:
    """The indicators that concern the patient, by group ("Vaccinations", "Dépistages", …),
    in the pack's order; groups without one are left out."""
    groups = []
    for group, title in GROUP_TITLES.items():
        sheets = [
            indicator_sheet(pack, indicator, patient, evaluation, overrides)
            for indicator in pack.indicators
            if indicator.group == group and indicator.id in evaluation.statuses
        ]
        if sheets:
            groups.append((title, sheets))
    return groups


def indicator_sheet(
    pack: RulePack,
    indicator: Indicator,
    patient: Patient,
    evaluation: PatientEvaluation,
    overrides: Sequence[Override] = (),
) -> IndicatorSheet:
    """What the follow-up says of `indicator`, which concerns the patient."""
    as_of = evaluation.as_of
    status = evaluation.statuses[indicator.id]
    membership = indicator.population.membership(patient, as_of)
    campaign = (
        campaign_text(pack.seasons, as_of)
        if isinstance(indicator.rule, SeasonalRule)
        else None
    )
    return IndicatorSheet(
        indicator=indicator,
        status=status,
        concerned=membership_text(membership) if membership is not None else "",
        campaign=campaign,
        details=tuple(_status_details(indicator, status, as_of)),
        acts=tuple(_evidence_text(item, overrides) for item in status.evidence),
    )


def age_text(patient: Patient, as_of: date) -> str:
    """`55 ans`, `8 mois`; "" without a birth date."""
    if patient.birth_date is None:
        return ""
    years = completed_years(patient.birth_date, as_of)
    months = completed_months(patient.birth_date, as_of)
    return french.age(years, months)


def _identity(patient: Patient, evaluation: PatientEvaluation) -> str:
    name = " ".join(part for part in (patient.nom, patient.prenom) if part)
    text = f"{name} ({patient.patient_id})" if name else patient.patient_id
    if patient.birth_date is not None:
        text += (
            f", né(e) le {french.day(patient.birth_date)}, "
            f"{age_text(patient, evaluation.as_of)}"
        )
    return text


def _indicator_lines(sheet: IndicatorSheet) -> list[str]:
    """The indicator's header, why the patient is concerned, the flu/covid campaign it is
    about (and whether its dates are sure), the status's details and the acts."""
    lines = [f"  {sheet.indicator.label} : {sheet.status.label}"]
    if sheet.concerned:
        lines.append(f"    Concerné(e) : {sheet.concerned}")
    if sheet.campaign is not None:
        lines.append(f"    {sheet.campaign}")
    lines += [f"    {line}" for line in sheet.details]
    lines += [f"    • {act}" for act in sheet.acts]
    if sheet.says_no_act:
        lines.append(f"    • {NO_ACT_LINE}")
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


def override_text(
    pack: RulePack, override: Override, *, with_reason: bool = True
) -> str:
    """`n° 3 — Dépistage cancer du sein : refus du patient, par Dr Martin le 15/03/2026 —
    « ne souhaite pas »` (the reason left out when a page shows it apart)."""
    try:
        label = pack.indicator(override.indicator).label
    except KeyError:
        label = override.indicator
    text = (
        f"n° {override.override_id} — {label} : {OVERRIDE_LABELS[str(override.kind)]}"
    )
    if override.date is not None:
        text += f" ({french.day(override.date)})"
    text += f", par {override.author} le {french.day(override.recorded_on)}"
    if override.expires is not None:
        text += f", jusqu'au {french.day(override.expires)}"
    if override.reason and with_reason:
        text += f" — « {override.reason} »"
    return text
