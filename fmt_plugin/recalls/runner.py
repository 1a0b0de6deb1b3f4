"""One recall run on an open installation: evaluate, plan, queue in the outbox, deliver.

The glue between the pure planner, the encrypted outbox and the channels the adapters
offer; the CLI and the scheduler's jobs both go through here.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from fmt_plugin.config import RecallSettings
from fmt_plugin.evaluation import (
    PracticeEvaluation,
    evaluate_practice,
    select_rule_pack,
)
from fmt_plugin.installation import Installation
from fmt_plugin.model import Patient, RecallChannel
from fmt_plugin.recalls.delivery import (
    DeliveryReport,
    RetryPolicy,
    deliver_due,
)
from fmt_plugin.recalls.model import PlannedRecall, PracticeContact
from fmt_plugin.recalls.planner import plan_recalls

#: The Message-ID domain when no channel names a sender (`.invalid` is reserved: RFC 2606).
FALLBACK_DOMAIN = "fmt-plugin.invalid"


@dataclass(frozen=True)
class RecallPlan:
    """The recalls a run would queue at `as_of`, each with the channel that would carry it."""

    as_of: date
    recalls: tuple[PlannedRecall, ...]
    channels: dict[str, str | None]  # patient id → first channel that reaches them
    #: The evaluation the plan was made from (for callers that also show the statuses).
    practice: PracticeEvaluation = field(repr=False, compare=False)


def recall_channels(installation: Installation) -> list[RecallChannel]:
    """The channels the adapters offer, in the order they are tried (vendors' first)."""
    offered = installation.pm.hook.fmt_recall_channels()
    return [channel for channels in offered if channels for channel in channels]


def practice_contact(installation: Installation) -> PracticeContact:
    """The practice as recalls present it."""
    practice = installation.config.practice
    return PracticeContact(name=practice.name, phone=practice.phone)


def retry_policy(settings: RecallSettings) -> RetryPolicy:
    """The outbox's retry policy from `[recalls]`."""
    return RetryPolicy(
        base_delay_s=settings.retry_base_s,
        max_delay_s=settings.retry_max_s,
        max_attempts=settings.max_attempts,
    )


def plan(installation: Installation, as_of: date) -> RecallPlan:
    """What the planner asks for at `as_of`, given the outbox's history; nothing written."""
    store, pm = installation.store, installation.pm
    pack = select_rule_pack(installation.config, pm)
    practice = evaluate_practice(store, pm, pack, as_of)
    recalls = plan_recalls(
        patients=practice.patients,
        evaluations=practice.evaluations,
        pack=pack,
        policy=installation.config.recalls.policy,
        history=store.outbox.history(),
        as_of=as_of,
    )
    channels = recall_channels(installation)
    return RecallPlan(
        as_of,
        tuple(recalls),
        {
            recall.patient_id: _first_reaching(
                channels, practice.patients[recall.patient_id]
            )
            for recall in recalls
        },
        practice,
    )


def queue(
    installation: Installation, recall_plan: RecallPlan, now: datetime
) -> list[int]:
    """Record the plan's recalls in the outbox; items already there are not queued again."""
    domain = message_id_domain(recall_channels(installation))
    return installation.store.outbox.add_planned(
        recall_plan.recalls, now=now, message_id_domain=domain
    )


async def deliver(
    installation: Installation, now: datetime, stop: threading.Event | None = None
) -> DeliveryReport:
    """Deliver every outbox message due at `now` (sending hours are the caller's concern).

    `stop`, once set, ends the run after the message being handed over.
    """
    return await deliver_due(
        installation.store,
        recall_channels(installation),
        practice_contact(installation),
        now=now,
        retry=retry_policy(installation.config.recalls),
        stop=stop,
    )


def message_id_domain(channels: Sequence[RecallChannel]) -> str:
    """The domain of the first channel's sender address (the practice's mailbox), if any."""
    for channel in channels:
        sender = getattr(channel, "sender", None)
        if isinstance(sender, str) and "@" in sender:
            return sender.rsplit("@", 1)[1].lower()
    return FALLBACK_DOMAIN


def _first_reaching(channels: Sequence[RecallChannel], patient: Patient) -> str | None:
    return next((c.name for c in channels if c.can_reach(patient)), None)
