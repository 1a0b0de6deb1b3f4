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
- a catch-up (`IndicatorStatus.catch_up`: a child's age window closed without the act,
  which no longer counts for the FMT): never, unless `policy.catch_up`.
- seasonal indicators (flu, covid: a `SeasonalRule`) only from the start to the end of the
  current season's campaign, both inclusive.
- never for a patient in `opposition` or absent from `patients` (inactive), for a refused
  indicator, or while `recall_postponed_until` is after `as_of` (recalls resume on that day).
- the cycle is the status's `period_start` in ISO form, or `saison-YYYY` for a seasonal
  indicator (the season of its due date, else the current one). `period_start` is stable
  from one day to the next while the record does not change — for an act never done it is
  the day the patient entered the population, never `as_of` — so daily runs find the same
  cycle; without one (no birth date) the cycle is `NO_DUE_CYCLE`, stable as well.
- a cycle's messages are its items in the outbox, and any other item about the same
  indicator sent since the cycle's `period_start`: a message sent in this due period
  belongs to it whatever cycle name it was recorded under (the names of an older release,
  which followed a moving due date, included).
- step 1 when the cycle has no message; step k+1 after k sent messages when k <
  `max_steps`; otherwise nothing. Nothing either while a cycle's item needs a person
  (uncertain) or reached no channel (dead: a reminder would not either).
- whatever the cycle, never a message about an indicator within `reminder_after_days` of
  the last one about it (sent, or uncertain since its attempt), nor while another one
  about it is on its way (planned, sending, failed): a new cycle (a birthday opening a new
  year of age, an act that falls due again) waits for the quiet period to end.
- a patient gets nothing within `min_days_between_messages` of the last message to them,
  whatever it was about, nor while one is on its way: the flu campaign opening the day
  before a screening reminder falls due does not make two letters on consecutive days;
  the reminder waits and goes out with whatever else is due then.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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

#: The cycle of a status whose period has no known start (a patient without birth date).
NO_DUE_CYCLE = "sans-echeance"

#: Outbox states of a message that will still be handed to a channel without anyone acting.
ON_ITS_WAY = frozenset({RecallState.PLANNED, RecallState.SENDING, RecallState.FAILED})

_IndicatorKey = tuple[str, str]  # patient id, indicator id


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
    history = list(history)
    past = _by_indicator(history)
    resting = _resting_patients(history, policy, as_of)
    by_patient = {evaluation.patient_id: evaluation for evaluation in evaluations}
    recalls = []
    for patient_id in sorted(by_patient):
        patient = patients.get(patient_id)
        if patient is None or patient.opposition or patient_id in resting:
            continue
        items = _due_items(by_patient[patient_id], pack, policy, past, as_of)
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


def _by_indicator(
    history: Iterable[PastRecall],
) -> dict[_IndicatorKey, list[PastRecall]]:
    """The outbox's items of each (patient, indicator), in outbox order."""
    grouped: dict[_IndicatorKey, list[PastRecall]] = {}
    for item in history:
        grouped.setdefault((item.patient_id, item.indicator), []).append(item)
    return grouped


def _resting_patients(
    history: Sequence[PastRecall], policy: RecallPolicy, as_of: date
) -> set[str]:
    """Patients written to within `min_days_between_messages`, or with a message on its way.

    Their items wait: planned tomorrow or later, they travel together in one message.
    """
    resting = set()
    for item in history:
        went_out = _went_out_on(item)
        if item.state in ON_ITS_WAY or (
            went_out is not None
            and (as_of - went_out).days < policy.min_days_between_messages
        ):
            resting.add(item.patient_id)
    return resting


def _due_items(
    evaluation: PatientEvaluation,
    pack: RulePack,
    policy: RecallPolicy,
    past: Mapping[_IndicatorKey, Sequence[PastRecall]],
    as_of: date,
) -> tuple[DueItem, ...]:
    items = []
    for indicator in pack.indicators:
        status = evaluation.statuses.get(indicator.id)
        if status is None or not _wanted(status, indicator, pack, policy, as_of):
            continue
        cycle = _cycle(status, indicator, pack, as_of)
        earlier = past.get((evaluation.patient_id, indicator.id), ())
        step = _next_step(earlier, cycle, status.period_start, policy, as_of)
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
    if status.refused or (status.catch_up and not policy.catch_up):
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
    if status.period_start is None:
        return NO_DUE_CYCLE
    return status.period_start.isoformat()


def _next_step(
    earlier: Sequence[PastRecall],
    cycle: str,
    period_start: date | None,
    policy: RecallPolicy,
    as_of: date,
) -> int | None:
    """The step to plan in `cycle` given the indicator's outbox items, or None."""
    if any(item.state in ON_ITS_WAY for item in earlier):
        return None
    last = max(filter(None, map(_went_out_on, earlier)), default=None)
    if last is not None and (as_of - last).days < policy.reminder_after_days:
        return None
    mine = [item for item in earlier if _in_cycle(item, cycle, period_start)]
    if any(item.state is not RecallState.SENT or not item.sent_on for item in mine):
        # Uncertain: a person decides; dead: no channel reaches them, a reminder would not
        # either; sent on an unknown day: the reminder's delay cannot be counted.
        return None
    # Steps are numbered within the cycle's own name; a message recorded under another
    # name counts once, whatever step it was there.
    step = max([len(mine), *(item.step for item in mine if item.cycle == cycle)]) + 1
    return step if step <= policy.max_steps else None


def _went_out_on(item: PastRecall) -> date | None:
    """When the item's message went out, or may have (uncertain); None if it did not."""
    if item.state is RecallState.SENT:
        return item.sent_on
    if item.state is RecallState.UNCERTAIN:
        return item.attempted_on
    return None


def _in_cycle(item: PastRecall, cycle: str, period_start: date | None) -> bool:
    """True when `item` belongs to the cycle: recorded under it, or sent during it."""
    if item.cycle == cycle:
        return True
    went_out = _went_out_on(item)
    return (
        period_start is not None and went_out is not None and went_out >= period_start
    )
