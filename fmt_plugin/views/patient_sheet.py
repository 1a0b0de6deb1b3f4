"""The "Suivi prévention" of one patient: every indicator, its status, next date and acts.

Modelled on amelipro's patient view: per indicator, the status, "Prochain dépistage à prévoir :
juin 2028", and the dated acts that explain it, with where each one comes from.
"""

from __future__ import annotations

from collections.abc import Sequence

from fmt_plugin.model import Patient
from fmt_plugin.rules.dates import completed_months, completed_years
from fmt_plugin.rules.model import IndicatorStatus, Override, PatientEvaluation, Status
from fmt_plugin.rules.pack import Indicator, RulePack
from fmt_plugin.views import french

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


def render_patient_sheet(
    pack: RulePack,
    patient: Patient,
    evaluation: PatientEvaluation,
    overrides: Sequence[Override] = (),
) -> str:
    """The French text of the patient's prevention follow-up at `evaluation.as_of`."""
    as_of = evaluation.as_of
    lines = [f"Suivi prévention — {_identity(patient, evaluation)}"]
    lines.append(f"Au {french.day(as_of)} (jeu de règles {pack.id} {pack.version})")
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
            lines += _indicator_lines(indicator, evaluation.statuses[indicator.id])
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


def _indicator_lines(indicator: Indicator, status: IndicatorStatus) -> list[str]:
    lines = [f"  {indicator.label} : {status.status.label}"]
    lines += [f"    {line}" for line in _status_details(indicator, status)]
    if status.evidence:
        for item in status.evidence:
            label = item.label or f"{item.system} {item.code}"
            code = (
                "" if item.system == "DECLARATION" else f" ({item.system} {item.code})"
            )
            source = french.SOURCE_LABELS[item.source]
            lines.append(f"    • {french.day(item.date)} — {label}{code}, {source}")
    elif status.status is not Status.EXCLU:
        lines.append("    • Aucun acte retrouvé")
    return lines


def _status_details(indicator: Indicator, status: IndicatorStatus) -> list[str]:
    details: list[str] = []
    due = status.due
    if status.status is Status.FAIT:
        if due is None:
            details.append("À jour, rien d'autre à prévoir pour cet indicateur")
        else:
            details.append(f"{NEXT_WORDS[indicator.group]} : {french.month(due)}")
    elif status.status is Status.A_VERIFIER and due is not None:
        details.append(
            f"À faire depuis le {french.day(due)} ({status.overdue_days} jours de retard)"
        )
    elif status.status is Status.A_VENIR and due is not None:
        details.append(f"À faire à partir du {french.day(due)}")
    elif status.status is Status.EXCLU:
        until = f", jusqu'au {french.day(due)}" if due else ""
        details.append(f"Exclu : {status.reason}{until}")
    if status.reason and status.status in (Status.A_VERIFIER, Status.A_VENIR):
        details.append(status.reason)
    if status.due_soon:
        details.append("Échéance dans moins de 30 jours")
    if status.refused:
        details.append("Refus du patient enregistré : pas de rappel")
    if status.recall_postponed_until is not None:
        details.append(
            f"Rappels reportés au {french.day(status.recall_postponed_until)}"
        )
    return details


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
