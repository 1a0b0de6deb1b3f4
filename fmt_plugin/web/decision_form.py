"""The dashboard's decision form: what the practice typed, checked, as an `Override` to record.

The checks are those of `fmt-plugin override` (`fmt_plugin.decision_checks`), with the
fields named as the form labels them; a role that may not record the kind chosen (an
assistant and a medical exclusion) is refused before anything else is looked at.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from fmt_plugin.accounts.roles import Role
from fmt_plugin.commands.invocation import iso_date_argument
from fmt_plugin.decision_checks import FieldNames, check_override_dates, clean_reason
from fmt_plugin.errors import FmtError, UsageError
from fmt_plugin.rules import Override, OverrideKind, RulePack
from fmt_plugin.views.decisions import KIND_WORDS

WEB_FIELDS = FieldNames(date="Date", expires="« Valable jusqu'au »")
#: Longest reason kept (a sentence or two; the record is not a letter).
MAX_REASON = 500


class DecisionForbidden(FmtError):
    """The user's role may not record (or revoke) this kind of decision."""


@dataclass(frozen=True)
class DecisionForm:
    """One decision as the form gave it, checked (health data: kept out of `repr`)."""

    indicator: str
    kind: OverrideKind
    reason: str = field(repr=False)
    when: date | None = field(default=None, repr=False)
    expires: date | None = field(default=None, repr=False)

    def override(self, patient_id: str, author: str, recorded_on: date) -> Override:
        """The decision to record, taken by `author` on `recorded_on`."""
        return Override(
            patient_id=patient_id,
            indicator=self.indicator,
            kind=self.kind,
            author=author,
            recorded_on=recorded_on,
            reason=self.reason,
            date=self.when,
            expires=self.expires,
        )


def kind_choices(role: Role) -> list[tuple[str, str]]:
    """The kinds `role` may record, as (value, French label) for the form's list."""
    return [
        (kind.value, KIND_WORDS[kind][0].upper() + KIND_WORDS[kind][1:])
        for kind in OverrideKind
        if role.may_record(kind)
    ]


def parse_decision(
    form: Mapping[str, str], *, pack: RulePack, role: Role, recorded_on: date
) -> DecisionForm:
    """The checked decision the form holds (fields indicateur, type, motif, date, expire).

    Raises DecisionForbidden when `role` may not record its kind, and UsageError (a French
    message for the page) when a field is missing or does not fit.
    """
    kind = _kind(form.get("type", ""))
    if not role.may_record(kind):
        raise DecisionForbidden(
            f"Le rôle « {role.label} » ne peut pas enregistrer une décision "
            f"« {KIND_WORDS[kind]} »."
        )
    indicator = form.get("indicateur", "").strip()
    if indicator not in pack.indicator_ids:
        raise UsageError(
            f"indicateur « {indicator} » inconnu du jeu de règles « {pack.id} »"
            if indicator
            else "indicateur manquant : choisissez l'indicateur de la décision"
        )
    reason = clean_reason(form.get("motif", ""))
    if len(reason) > MAX_REASON:
        raise UsageError(
            f"motif trop long ({len(reason)} caractères) : {MAX_REASON} au plus"
        )
    when = _day(form.get("date", ""), WEB_FIELDS.date)
    expires = _day(form.get("expire", ""), WEB_FIELDS.expires)
    check_override_dates(kind, when, expires, recorded_on, WEB_FIELDS)
    return DecisionForm(indicator, kind, reason, when, expires)


def _kind(text: str) -> OverrideKind:
    try:
        return OverrideKind(text.strip())
    except ValueError:
        raise UsageError(
            "type de décision inconnu : exclusion, refus, report ou fait_ailleurs"
        ) from None


def _day(text: str, name: str) -> date | None:
    """The date of a field (None when left empty), or UsageError naming the field."""
    if not text.strip():
        return None
    try:
        return iso_date_argument(text)
    except argparse.ArgumentTypeError as refused:
        raise UsageError(f"{name} : {refused}") from None
