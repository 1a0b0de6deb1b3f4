"""The recall vocabulary shared by the planner, the outbox, the channels and the jobs.

A recall *item* is one indicator due for one patient; its identity is
(patient, indicator, cycle, step) and it is created at most once. A recall *message* groups a
patient's items of one planning run and is what a channel delivers. Fields that describe a
patient stay out of `repr`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from fmt_plugin.model import Patient
from fmt_plugin.rules.model import Status


class RecallState(StrEnum):
    """Where a recall message is in the outbox.

    planned → sending → sent, or → failed (temporary, retried later) → … → dead; `uncertain`
    when the process stopped between handing the message over and recording the answer.
    """

    PLANNED = "planned"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    DEAD = "dead"
    UNCERTAIN = "uncertain"


class Audience(StrEnum):
    """Who reads the message: the patient, or a minor patient's parents."""

    PATIENT = "patient"
    PARENTS = "parents"


@dataclass(frozen=True)
class RecallKey:
    """The identity of one recall item: created once, sent at most once."""

    patient_id: str
    indicator: str
    cycle: str
    step: int


@dataclass(frozen=True)
class DueItem:
    """One indicator to recall in a message.

    `cycle` names the indicator's current due period: the status's `period_start` (ISO),
    or `saison-YYYY` for a seasonal vaccination. It stays the same from one day to the next
    while the record does not change, and a new cycle starts once the act is done and falls
    due again, or a period (season, year of age) turns.
    """

    indicator: str
    label: str
    cycle: str
    step: int
    status: Status
    due: date | None = field(default=None, repr=False)


def highest_step(items: Iterable[DueItem]) -> int:
    """The message's step: 1 for a first recall, 2 and more when it reminds of one."""
    return max((item.step for item in items), default=1)


@dataclass(frozen=True)
class PlannedRecall:
    """What the planner decided for one patient in one run: one message, all items."""

    patient_id: str
    audience: Audience
    items: tuple[DueItem, ...]

    def keys(self) -> tuple[RecallKey, ...]:
        """The identities of the message's items."""
        return tuple(
            RecallKey(self.patient_id, item.indicator, item.cycle, item.step)
            for item in self.items
        )


@dataclass(frozen=True)
class PastRecall:
    """A recall item already in the outbox, as the planner needs to know it.

    `sent_on` is the Paris calendar date the message was accepted by a channel (None until
    then); `attempted_on` the Paris date of its latest delivery attempt (None while it was
    never tried), which is when an `uncertain` message may have gone out.
    """

    patient_id: str
    indicator: str
    cycle: str
    step: int
    state: RecallState
    sent_on: date | None = None
    attempted_on: date | None = None


@dataclass(frozen=True)
class PracticeContact:
    """The practice as patients see it in a recall: its name and phone number."""

    name: str
    phone: str = ""


@dataclass(frozen=True)
class RecallMessage:
    """One outbox message handed to a channel.

    `recall_id` is the outbox id (what logs carry); `message_id` the RFC 5322 Message-ID,
    the same on every attempt so a server or a reader can tell a retry from a new message.
    """

    recall_id: int
    message_id: str
    patient: Patient
    audience: Audience
    items: tuple[DueItem, ...]
    practice: PracticeContact
    created_at: datetime = field(repr=False)
