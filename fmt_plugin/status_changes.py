"""Which indicator statuses changed between two evaluations of a patient: pure, no I/O.

A status is the pair (status, due date): a `fait` whose due date moves because a newer act
arrived is a change too, since the EHR's dashboard shows the date. An indicator that leaves a
patient's population (a child turning 2, an ALD ending) is not reported: there is no status
to show any more, and `StatusChange.new_status` is never empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from fmt_plugin.model import StatusChange
from fmt_plugin.rules.model import PatientEvaluation


@dataclass(frozen=True)
class KnownStatus:
    """What is remembered of one indicator of one patient.

    A change is a change of `status` or `due`; the other fields are remembered for the
    dashboard's lists (which must not evaluate the practice) and never make a change.
    """

    status: str
    due: date | None
    #: Recommended only (pregnancy, BMI ≥ 40…): recalled, not counted by the FMT.
    hors_fmt: bool = field(default=False, compare=False)
    #: A child's window closed without the act (rattrapage).
    catch_up: bool = field(default=False, compare=False)
    #: The newest act behind the status, and its code.
    last_act: date | None = field(default=None, compare=False)
    last_code: str | None = field(default=None, compare=False)


#: indicator → its status, for one patient.
PatientStatuses = Mapping[str, KnownStatus]


def known_statuses(evaluation: PatientEvaluation) -> dict[str, KnownStatus]:
    """The part of an evaluation that is remembered."""
    return {
        indicator: KnownStatus(
            str(status.status),
            status.due,
            hors_fmt=status.hors_fmt,
            catch_up=status.catch_up,
            last_act=status.evidence[0].date if status.evidence else None,
            last_code=status.evidence[0].code if status.evidence else None,
        )
        for indicator, status in evaluation.statuses.items()
    }


def status_changes(
    patient_id: str,
    previous: PatientStatuses | None,
    current: PatientStatuses,
    as_of: date,
) -> list[StatusChange]:
    """The changes from `previous` (None: never evaluated) to `current`, by indicator name."""
    before = previous or {}
    return [
        StatusChange(
            patient_id=patient_id,
            indicator=indicator,
            old_status=before[indicator].status if indicator in before else None,
            new_status=now.status,
            as_of=as_of,
            due=now.due,
        )
        for indicator, now in sorted(current.items())
        if before.get(indicator) != now
    ]


def practice_changes(
    previous: Mapping[str, PatientStatuses],
    evaluations: Iterable[PatientEvaluation],
) -> tuple[list[StatusChange], dict[str, dict[str, KnownStatus]]]:
    """Every change of the practice, and the statuses to remember for each patient evaluated."""
    changes: list[StatusChange] = []
    remembered: dict[str, dict[str, KnownStatus]] = {}
    for evaluation in evaluations:
        current = known_statuses(evaluation)
        remembered[evaluation.patient_id] = current
        changes += status_changes(
            evaluation.patient_id,
            previous.get(evaluation.patient_id),
            current,
            evaluation.as_of,
        )
    return changes, remembered
