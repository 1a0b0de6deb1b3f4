"""Decide which patient needs which recall at `as_of`, from statuses, policy and the outbox; pure.

`plan_recalls` reads no clock, no store and no hook: statuses, the outbox history and `as_of`
are arguments, so a plan is reproducible ("what would have been sent on 1 March") and the
same run twice gives the same plan. The outbox makes each returned item at most once (its
identity is patient, indicator, cycle, step), so planning again after a crash is harmless.

Policy, one indicator of one patient at a time:

- `exclu`: never. `a_verifier`: always. `fait` / `a_venir`: when `due − as_of ≤ lead_days`
  ("à prévoir"); there is no lower bound, since a due date already reached means the act is
  due all the more (the engine reports that as `a_verifier` anyway). Without a due date (a
  lifetime indicator that is `fait`), never.
- seasonal indicators (flu, covid: a `SeasonalRule`) only from the start to the end of the
  current season's campaign, both inclusive.
- never for a patient in `opposition` or absent from `patients` (inactive), for a refused
  indicator, or while `recall_postponed_until` is after `as_of` (recalls resume on that day).
- the cycle is the due date in ISO form, or `saison-YYYY` for a seasonal indicator (the
  season of its due date, else the current one). An `a_verifier` without a due date (the
  engine always gives one) falls back to `NO_DUE_CYCLE`, stable across runs.
- step 1 when the outbox holds nothing for (patient, indicator, cycle); step k+1 when step
  k, the latest, was sent at least `reminder_after_days` before `as_of` and k < `max_steps`;
  otherwise nothing: an earlier step is still on its way (planned, sending, failed) or needs a
  person (uncertain), or no channel reached the patient (dead: a reminder would not either).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from fmt_plugin.model import Patient
from fmt_plugin.recalls.model import (
    Audience,
    DueItem,
    PastRecall,
    PlannedRecall,
    RecallState,
    highest_step,
)
from fmt_plugin.recalls.policy import RecallPolicy
from fmt_plugin.rules.dates import completed_years
from fmt_plugin.rules.model import IndicatorStatus, PatientEvaluation, Status
from fmt_plugin.rules.pack import Indicator, RulePack, SeasonalRule

#: The cycle of an `a_verifier` status that has no due date (never produced by the engine).
NO_DUE_CYCLE = "sans-echeance"

_CycleKey = tuple[str, str, str]  # patient id, indicator id, cycle


def plan_recalls(
    *,
    patients: Mapping[str, Patient],
    evaluations: Iterable[PatientEvaluation],
    pack: RulePack,
    policy: RecallPolicy,
    history: Iterable[PastRecall],
    as_of: date,
) -> list[PlannedRecall]:
    """One recall per patient who has something due at `as_of`, grouping all their items.

    `patients` are the active patients (anyone else is skipped); `evaluations` hold one
    evaluation per patient, made with `pack` at `as_of` (a later one for the same patient
    replaces an earlier one; indicators the pack does not know are ignored); `history` is
    the outbox's items. Sorted by patient id, items in the pack's indicator order.
    """
    latest = _latest_steps(history)
    by_patient = {evaluation.patient_id: evaluation for evaluation in evaluations}
    recalls = []
    for patient_id in sorted(by_patient):
        patient = patients.get(patient_id)
        if patient is None or patient.opposition:
            continue
        items = _due_items(by_patient[patient_id], pack, policy, latest, as_of)
        if items:
            recalls.append(
                PlannedRecall(patient_id, audience(patient, policy, as_of), items)
            )
    return recalls


def audience(patient: Patient, policy: RecallPolicy, as_of: date) -> Audience:
    """PARENTS for a patient younger than `policy.adult_age` at `as_of`, else PATIENT.

    An unknown birth date reads as an adult: a wrongly adult wording reaches the right
    person, whereas addressing an adult's parents would not.
    """
    birth = patient.birth_date
    if birth is not None and completed_years(birth, as_of) < policy.adult_age:
        return Audience.PARENTS
    return Audience.PATIENT


def recall_to_dict(recall: PlannedRecall) -> dict[str, Any]:
    """A JSON-ready view of a planned recall (`recalls plan --format json`); ids, no names."""
    return {
        "patient_id": recall.patient_id,
        "indicators": [item.indicator for item in recall.items],
        "step": highest_step(recall.items),
        "items": [
            {
                "indicator": item.indicator,
                "cycle": item.cycle,
                "step": item.step,
                "status": item.status.value,
                "due": item.due.isoformat() if item.due else None,
            }
            for item in recall.items
        ],
        "audience": recall.audience.value,
    }


def _latest_steps(history: Iterable[PastRecall]) -> dict[_CycleKey, PastRecall]:
    """The highest step the outbox holds for each (patient, indicator, cycle)."""
    latest: dict[_CycleKey, PastRecall] = {}
    for past in history:
        key = (past.patient_id, past.indicator, past.cycle)
        known = latest.get(key)
        if known is None or past.step > known.step:
            latest[key] = past
    return latest


def _due_items(
    evaluation: PatientEvaluation,
    pack: RulePack,
    policy: RecallPolicy,
    latest: Mapping[_CycleKey, PastRecall],
    as_of: date,
) -> tuple[DueItem, ...]:
    items = []
    for indicator in pack.indicators:
        status = evaluation.statuses.get(indicator.id)
        if status is None or not _wanted(status, indicator, pack, policy, as_of):
            continue
        cycle = _cycle(status, indicator, pack, as_of)
        key = (evaluation.patient_id, indicator.id, cycle)
        step = _next_step(latest.get(key), policy, as_of)
        if step is not None:
            items.append(
                DueItem(
                    indicator.id,
                    indicator.label,
                    cycle,
                    step,
                    status.status,
                    status.due,
                )
            )
    return tuple(items)


def _wanted(
    status: IndicatorStatus,
    indicator: Indicator,
    pack: RulePack,
    policy: RecallPolicy,
    as_of: date,
) -> bool:
    """True when the policy asks for a recall of this status now (before escalation)."""
    if status.refused:
        return False
    if (
        status.recall_postponed_until is not None
        and status.recall_postponed_until > as_of
    ):
        return False
    if isinstance(indicator.rule, SeasonalRule) and not _in_campaign(pack, as_of):
        return False
    if status.status is Status.A_VERIFIER:
        return True
    if status.status in (Status.FAIT, Status.A_VENIR) and status.due is not None:
        return (status.due - as_of).days <= policy.lead_days
    return False


def _in_campaign(pack: RulePack, as_of: date) -> bool:
    seasons = pack.seasons
    campaign = seasons.campaign(seasons.season_of(as_of))
    return campaign.start <= as_of <= campaign.end


def _cycle(
    status: IndicatorStatus, indicator: Indicator, pack: RulePack, as_of: date
) -> str:
    if isinstance(indicator.rule, SeasonalRule):
        # A `fait` is due at the next season's campaign: that next season is its cycle.
        on = status.due if status.due is not None else as_of
        return f"saison-{pack.seasons.season_of(on)}"
    if status.due is None:
        return NO_DUE_CYCLE
    return status.due.isoformat()


def _next_step(
    past: PastRecall | None, policy: RecallPolicy, as_of: date
) -> int | None:
    """The step to plan for a cycle whose latest outbox item is `past`, or None."""
    if past is None:
        return 1 if policy.max_steps >= 1 else None
    if past.state is not RecallState.SENT or past.sent_on is None:
        return None
    if past.step >= policy.max_steps:
        return None
    if (as_of - past.sent_on).days < policy.reminder_after_days:
        return None
    return past.step + 1
