"""French text of the practice's decisions: what one says, the list of them, who is concerned.

A decision reads as the practice would write it in the record: "Déclaré fait ailleurs le
01/06/2025", "Rappels reportés jusqu'au 01/09/2026", then who decided it and when, and why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from fmt_plugin.model import Patient
from fmt_plugin.rules.dates import Age
from fmt_plugin.rules.model import Override, OverrideKind
from fmt_plugin.rules.pack import AgeBounds, Indicator, RulePack
from fmt_plugin.storage.store import Revocation
from fmt_plugin.timezone import PARIS
from fmt_plugin.views import french

#: Each kind in words, as the practice says it (help texts and messages).
KIND_WORDS = {
    OverrideKind.EXCLUSION: "exclusion médicale",
    OverrideKind.REFUS: "refus du patient",
    OverrideKind.REPORT: "report des rappels",
    OverrideKind.FAIT_AILLEURS: "fait ailleurs",
}


def what_it_says(override: Override) -> str:
    """`Déclaré fait ailleurs le 01/06/2025`, `Exclusion médicale`, `Rappels reportés jusqu'au …`."""
    if override.kind is OverrideKind.FAIT_AILLEURS and override.date is not None:
        return f"Déclaré fait ailleurs le {french.day(override.date)}"
    if override.kind is OverrideKind.REPORT and override.date is not None:
        return f"Rappels reportés jusqu'au {french.day(override.date)}"
    words = KIND_WORDS[override.kind]
    return words[0].upper() + words[1:]


def indicator_label(pack: RulePack, indicator_id: str) -> str:
    """The indicator's label in the pack, or its id when the pack no longer has it."""
    if indicator_id in pack.indicator_ids:
        return pack.indicator(indicator_id).label
    return indicator_id


def render_recorded(pack: RulePack, override: Override) -> str:
    """The confirmation of a decision just recorded."""
    when = f"décision du {french.day(override.recorded_on)} par {override.author}"
    if override.expires is not None:
        when += f", valable jusqu'au {french.day(override.expires)}"
    return (
        f"Décision n° {override.override_id} enregistrée pour le patient "
        f"{override.patient_id} — {indicator_label(pack, override.indicator)} : "
        f"{lowered(what_it_says(override))} ({when}).\n"
    )


def render_revoked(pack: RulePack, override: Override) -> str:
    """The confirmation of a revocation."""
    return (
        f"Décision n° {override.override_id} révoquée (patient {override.patient_id}, "
        f"{indicator_label(pack, override.indicator)} : "
        f"{lowered(what_it_says(override))}). "
        "Elle ne s'applique plus ; elle reste dans l'historique "
        "(fmt-plugin overrides --all).\n"
    )


def render_overrides(
    pack: RulePack,
    overrides: Sequence[Override],
    revocations: Mapping[int, Revocation],
    *,
    include_revoked: bool,
) -> str:
    """Every decision on two lines (what, who and when; why), revoked ones marked."""
    if not overrides:
        if include_revoked:
            return "Aucune décision enregistrée.\n"
        return "Aucune décision en vigueur (fmt-plugin overrides --all : y compris les révoquées).\n"
    revoked = sum(1 for o in overrides if o.override_id in revocations)
    if include_revoked:
        title = _count(len(overrides), "décision", "décisions")
        if revoked:
            title += f" (dont {_count(revoked, 'révoquée', 'révoquées')})"
    else:
        title = _count(len(overrides), "décision en vigueur", "décisions en vigueur")
    lines = [f"{title} :"]
    for override in overrides:
        lines.append(
            f"n° {override.override_id}  patient {override.patient_id}  "
            f"{indicator_label(pack, override.indicator)} ({override.indicator})"
        )
        lines.append(f"    {_decision_text(override)}")
        lines.append(f"    Motif : {override.reason}")
        revocation = revocations.get(override.override_id or 0)
        if revocation is not None:
            lines.append(f"    {revoked_text(revocation)}")
    return "\n".join(lines) + "\n"


def revoked_text(revocation: Revocation) -> str:
    """`Révoquée le 16/03/2026 par Dr Durand` (the day in Paris)."""
    on = revocation.at.astimezone(PARIS).date()
    return f"Révoquée le {french.day(on)} par {revocation.by}"


def _decision_text(override: Override) -> str:
    """What, then who decided it and when, and until when."""
    text = (
        f"{what_it_says(override)} — décision du {french.day(override.recorded_on)}"
        f" par {override.author}"
    )
    if override.expires is not None:
        text += f", valable jusqu'au {french.day(override.expires)}"
    return text


def lowered(text: str) -> str:
    """`text` with a small first letter, to follow a colon or another sentence's start."""
    return text[:1].lower() + text[1:]


def _count(n: int, one: str, many: str) -> str:
    return f"{french.number(n)} {one if n == 1 else many}"


def why_not_concerned(indicator: Indicator, patient: Patient, on: date) -> str:
    """Why the patient is outside the indicator's population on `on`, in the pack's terms.

    States the rule the patient does not meet (sex, ages, entry conditions), never the
    patient's own values: the text goes into an error message.
    """
    population = indicator.population
    if population.sex is not None and patient.sex != population.sex:
        who = "femmes" if population.sex == "F" else "hommes"
        return f"l'indicateur ne concerne que les {who}"
    if not population.ages.contains(patient.birth_date, on):
        if patient.birth_date is None:
            return "l'indicateur dépend de l'âge et la date de naissance est inconnue"
        return (
            f"l'indicateur concerne les patients {age_range(population.ages)}, "
            "ce qui n'est pas le cas à cette date"
        )
    return (
        "le patient ne remplit à cette date aucune des conditions d'entrée de "
        "l'indicateur (âge, ALD, pathologie ou facteur de risque du dossier)"
    )


def age_range(bounds: AgeBounds) -> str:
    """`de 50 ans à moins de 75 ans`, `à partir de 18 ans`, `de moins de 3 ans`."""
    if bounds.minimum is not None and bounds.until is not None:
        return f"de {_age(bounds.minimum)} à moins de {_age(bounds.until)}"
    if bounds.minimum is not None:
        return f"à partir de {_age(bounds.minimum)}"
    if bounds.until is not None:
        return f"de moins de {_age(bounds.until)}"
    return "de tout âge"


def _age(age: Age) -> str:
    if age.months % 12 == 0 and age.months >= 12:
        years = age.months // 12
        return "1 an" if years == 1 else f"{years} ans"
    return f"{age.months} mois"
