"""French text and JSON views of recalls: the plan, a run's summary, the outbox listing."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fmt_plugin.recalls.delivery import DeliveryReport
from fmt_plugin.recalls.model import Audience, RecallState, highest_step
from fmt_plugin.recalls.planner import recall_to_dict
from fmt_plugin.recalls.runner import RecallPlan
from fmt_plugin.storage.outbox import OutboxEntry
from fmt_plugin.timezone import PARIS
from fmt_plugin.views.french import day, number

STATE_LABELS = {
    RecallState.PLANNED: "à envoyer",
    RecallState.SENDING: "en cours d'envoi",
    RecallState.SENT: "envoyé",
    RecallState.FAILED: "échec temporaire (nouvel essai prévu)",
    RecallState.DEAD: "abandonné",
    RecallState.UNCERTAIN: "incertain (à vérifier)",
}


def plan_items(recall_plan: RecallPlan) -> list[dict[str, Any]]:
    """The plan as JSON items: patient_id, indicators, step, channel, audience, items."""
    return [
        recall_to_dict(recall)
        | {"channel": recall_plan.channels.get(recall.patient_id)}
        for recall in recall_plan.recalls
    ]


def render_plan_json(recall_plan: RecallPlan) -> str:
    """`recalls plan --format json`."""
    document = {
        "as_of": recall_plan.as_of.isoformat(),
        "recalls": plan_items(recall_plan),
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def render_plan(recall_plan: RecallPlan) -> str:
    """`recalls plan`: one line per patient, internal ids only."""
    recalls = recall_plan.recalls
    header = f"Rappels à envoyer au {day(recall_plan.as_of)} : {number(len(recalls))}"
    lines = [f"{header} patient(s)"]
    for recall in recalls:
        channel = recall_plan.channels.get(recall.patient_id) or "aucun canal"
        step = highest_step(recall.items)
        who = " (aux parents)" if recall.audience is Audience.PARENTS else ""
        lines.append(
            f"  patient {recall.patient_id}{who} — {_kind(step)} — {channel} : "
            + ", ".join(item.indicator for item in recall.items)
        )
    return "\n".join(lines) + "\n"


def render_run(queued: Sequence[int], report: DeliveryReport) -> str:
    """`recalls run`: what was queued and what the delivery did."""
    return (
        f"{number(len(queued))} nouveau(x) message(s) mis en file d'envoi\n"
        f"Envoi : {number(report.sent)} envoyé(s), {number(report.failed)} à réessayer, "
        f"{number(report.dead)} abandonné(s), {number(report.uncertain)} incertain(s)\n"
    )


def render_outbox(entries: Sequence[OutboxEntry]) -> str:
    """`recalls list`: one line per message, newest first."""
    if not entries:
        return "Aucun rappel.\n"
    lines = []
    for entry in sorted(entries, key=lambda e: e.id, reverse=True):
        detail = f" — {entry.last_error}" if entry.last_error else ""
        lines.append(
            f"n° {entry.id}  patient {entry.patient_id}  {STATE_LABELS[entry.state]}"
            f"  canal {entry.channel or '-'}  essais {entry.attempts}"
            f"  créé le {entry.created_at.astimezone(PARIS):%d/%m/%Y %H:%M}{detail}"
        )
    return "\n".join(lines) + "\n"


def _kind(step: int) -> str:
    return "premier rappel" if step == 1 else f"relance n° {step - 1}"
