"""What a practice decision must satisfy before it is recorded, from the CLI or the dashboard.

A reason that says something, dates that fit the kind of decision, and an indicator that
concerns the patient on the day of the decision. Each check raises UsageError with a French
message naming the field as the caller's user knows it (`--date` at the terminal, "Date" in
a form), and nothing is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pluggy

from fmt_plugin.errors import UsageError
from fmt_plugin.evaluation import evaluate_practice
from fmt_plugin.rules import OverrideKind, RulePack
from fmt_plugin.storage import Store
from fmt_plugin.views import decisions as view
from fmt_plugin.views.french import day

DATE_FORMS = "AAAA-MM-JJ ou JJ/MM/AAAA"


@dataclass(frozen=True)
class FieldNames:
    """How the messages name the decision's two dates for the user who typed them."""

    #: The act's date (fait ailleurs) or the end of a postponement (report).
    date: str
    #: The last day the decision applies.
    expires: str


CLI_FIELDS = FieldNames(date="--date", expires="--expires")


def clean_reason(text: str) -> str:
    """The reason, its blanks collapsed; UsageError when nothing is left."""
    reason = " ".join(text.split())
    if not reason:
        raise UsageError("motif vide : dites pourquoi (il reste avec la décision)")
    return reason


def check_override_dates(
    kind: OverrideKind,
    when: date | None,
    expires: date | None,
    recorded_on: date,
    names: FieldNames = CLI_FIELDS,
) -> None:
    """UsageError when the date and the expiry do not fit the kind of decision."""
    words = view.KIND_WORDS[kind]
    if kind is OverrideKind.FAIT_AILLEURS and when is None:
        raise UsageError(
            f"{names.date} manquante : une décision « {words} » demande la date de "
            f"l'acte ({DATE_FORMS})"
        )
    if kind is OverrideKind.REPORT and when is None:
        raise UsageError(
            f"{names.date} manquante : un « {words} » demande le jour où les rappels "
            f"reprennent ({DATE_FORMS})"
        )
    if kind is OverrideKind.FAIT_AILLEURS and when is not None and when > recorded_on:
        raise UsageError(
            f"{names.date} {day(when)} : un acte fait ailleurs ne peut pas être "
            f"postérieur à sa déclaration (au plus tard le {day(recorded_on)})"
        )
    if kind is OverrideKind.REPORT and when is not None and when <= recorded_on:
        raise UsageError(
            f"{names.date} {day(when)} : un report des rappels se termine après la "
            f"décision (après le {day(recorded_on)})"
        )
    if kind in (OverrideKind.EXCLUSION, OverrideKind.REFUS) and when is not None:
        raise UsageError(
            f"{names.date} : une décision « {words} » ne prend pas de date "
            f"({names.expires} pour limiter sa durée)"
        )
    if expires is not None and expires < recorded_on:
        raise UsageError(
            f"{names.expires} {day(expires)} : une décision ne peut pas expirer avant "
            f"d'être prise (au plus tôt le {day(recorded_on)})"
        )


def check_concerned(
    store: Store,
    pm: pluggy.PluginManager,
    pack: RulePack,
    patient_id: str,
    indicator_id: str,
    on: date,
) -> None:
    """UsageError unless the indicator exists and concerns this active patient on `on`."""
    if indicator_id not in pack.indicator_ids:
        raise UsageError(
            f"indicateur « {indicator_id} » inconnu du jeu de règles « {pack.id} » ; "
            f"indicateurs : {', '.join(pack.indicator_ids)}"
        )
    patient = store.get_patient(patient_id)
    if patient is None:
        raise UsageError(
            f"patient « {patient_id} » inconnu de la base : aucune décision enregistrée "
            "(un patient de la patientèle synchronisée, fmt-plugin sync)"
        )
    if patient_id not in store.patient_ids():
        raise UsageError(
            f"le patient « {patient_id} » n'est plus dans la patientèle active : "
            "aucune décision enregistrée"
        )
    practice = evaluate_practice(store, pm, pack, on, patient_ids=[patient_id])
    if indicator_id not in practice.evaluations[0].statuses:
        indicator = pack.indicator(indicator_id)
        raise UsageError(
            f"« {indicator.label} » ({indicator_id}) ne concerne pas le patient "
            f"{patient_id} au {day(on)} : "
            f"{view.why_not_concerned(indicator, patient, on)}. "
            "Aucune décision enregistrée."
        )
