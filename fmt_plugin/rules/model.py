"""The engine's inputs and outputs: evidence, practice overrides, statuses with due dates.

Frozen dataclasses with no behaviour beyond small predicates, so the engine stays a function
of its arguments. Clinical fields are kept out of `repr`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum


class Status(StrEnum):
    """The four statuses of an indicator for a patient, as amelipro names them."""

    FAIT = "fait"
    A_VERIFIER = "a_verifier"
    A_VENIR = "a_venir"
    EXCLU = "exclu"

    @property
    def label(self) -> str:
        """The French label shown to the practice."""
        return _STATUS_LABELS[self]


_STATUS_LABELS = {
    Status.FAIT: "Fait",
    Status.A_VERIFIER: "À vérifier",
    Status.A_VENIR: "À venir",
    Status.EXCLU: "Exclu(e)",
}


class EvidenceSource(StrEnum):
    """Where a piece of evidence comes from (shown distinctly to the practice)."""

    HL7 = "hl7"  # a lab result or vaccination received over HL7
    EHR = "ehr"  # an act recorded in the EHR, through an adapter
    DECLARATION = "declaration"  # "fait ailleurs", declared by the practice


#: HL7 OBX-11 result statuses that make a result count: final and corrected.
COUNTING_RESULT_STATUSES = frozenset({"F", "C"})


@dataclass(frozen=True)
class Evidence:
    """A dated, coded clinical event of one patient.

    `result_status` is the HL7 OBX-11 status of a lab result (None for acts, vaccinations and
    declarations, which count as they are). `indicator` is set only on a declaration, which
    counts for that indicator alone, whatever its code.
    """

    date: dt.date = field(repr=False)
    system: str = field(repr=False)
    code: str = field(repr=False)
    source: EvidenceSource
    label: str = field(default="", repr=False)
    result_status: str | None = field(default=None, repr=False)
    indicator: str | None = None

    def counts(self) -> bool:
        """True unless it is a lab result that is not final (preliminary, cancelled, …)."""
        return (
            self.result_status is None or self.result_status in COUNTING_RESULT_STATUSES
        )


class OverrideKind(StrEnum):
    """Decisions a practice records for one patient and one indicator."""

    EXCLUSION = "exclusion"  # medical exclusion: the status becomes `exclu`
    REFUS = "refus"  # the patient refuses: status unchanged, recalls stop
    REPORT = "report"  # postpone recalls until `date`
    FAIT_AILLEURS = "fait_ailleurs"  # done elsewhere on `date`: counts as evidence


@dataclass(frozen=True)
class Override:
    """A practice decision, with who took it, why, and for how long.

    `date` is the date of the act for `fait_ailleurs` and the postponement date for `report`.
    The override applies from `recorded_on` up to and including `expires` (None: no end).
    """

    patient_id: str
    indicator: str
    kind: OverrideKind
    author: str
    recorded_on: dt.date
    reason: str = field(default="", repr=False)
    date: dt.date | None = None
    expires: dt.date | None = None
    override_id: int | None = None

    def active(self, as_of: dt.date) -> bool:
        """True when the decision applies on `as_of`."""
        started = self.recorded_on <= as_of
        return started and (self.expires is None or as_of <= self.expires)


@dataclass(frozen=True)
class IndicatorStatus:
    """The status of one indicator for one patient at `as_of`, and what explains it.

    `due` is the prochaine échéance (see the rule pack); `evidence` the acts behind the
    status, newest first; `overdue_days` is set for `a_verifier`; `refused` and
    `recall_postponed_until` come from practice overrides and only affect recalls.

    `period_start` is the first day of the due period the status is about, stable from one
    day to the next while the record does not change: `due` itself when that is a fixed
    date (an expiry, a birthday, a campaign start); for an act never done whose `due` is
    the evaluation date, the day the patient entered the population, or else the start of
    the current year of age; None when not even that is known (no birth date). Recalls
    name their cycle after it, so a moving `due` never makes a new cycle.

    `catch_up` marks a child indicator whose age window closed on `window_closed` without
    the evidence: it is `a_verifier` for good (*rattrapage*), since no act can validate it
    any more; it still counts in the taux, not in the euros still possible, and gets no
    recall unless the practice asks for them (`[recalls] catch_up`).
    """

    indicator: str
    status: Status
    due: dt.date | None
    evidence: tuple[Evidence, ...] = ()
    period_start: dt.date | None = None
    overdue_days: int | None = None
    due_soon: bool = False
    reason: str = ""
    refused: bool = False
    recall_postponed_until: dt.date | None = None
    hors_fmt: bool = False
    catch_up: bool = False
    window_closed: dt.date | None = None

    @property
    def label(self) -> str:
        """The French label of the status, *rattrapage* told: "À vérifier (rattrapage)"."""
        return (
            f"{self.status.label} (rattrapage)" if self.catch_up else self.status.label
        )


@dataclass(frozen=True)
class PatientEvaluation:
    """Every indicator whose population includes the patient, evaluated at `as_of`."""

    patient_id: str
    as_of: dt.date
    statuses: dict[str, IndicatorStatus]
