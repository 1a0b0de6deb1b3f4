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
from fmt_plugin.views.french import day, local_time, number

#: The word for each state, shown by `recalls list` and typed in `--etat` (without accents).
STATE_LABELS = {
    RecallState.PLANNED: "planifié",
    RecallState.SENDING: "envoi en cours",
    RecallState.SENT: "envoyé",
    RecallState.FAILED: "échoué",
    RecallState.DEAD: "abandonné",
    RecallState.UNCERTAIN: "incertain",
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
    """`recalls plan`: one line per patient, internal ids and indicator labels only."""
    recalls = recall_plan.recalls
    pack = recall_plan.practice.pack
    header = f"Rappels à envoyer au {day(recall_plan.as_of)} : {number(len(recalls))}"
    lines = [f"{header} patient(s)"]
    for recall in recalls:
        channel = recall_plan.channels.get(recall.patient_id) or "aucun canal"
        step = highest_step(recall.items)
        who = " (aux parents)" if recall.audience is Audience.PARENTS else ""
        lines.append(
            f"  patient {recall.patient_id}{who} — {_kind(step)} — {channel} : "
            + ", ".join(pack.indicator(item.indicator).label for item in recall.items)
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
    """`recalls list`: one line per message, newest first, times on the practice's clock."""
    if not entries:
        return "Aucun rappel.\n"
    lines = []
    for entry in sorted(entries, key=lambda e: e.id, reverse=True):
        detail = f" — {entry.last_error}" if entry.last_error else ""
        attempts = (
            "1 essai" if entry.attempts == 1 else f"{number(entry.attempts)} essais"
        )
        lines.append(
            f"n° {entry.id}  patient {entry.patient_id}  {_state(entry)}"
            f"  canal {entry.channel or '-'}  {attempts}"
            f"  créé le {local_time(entry.created_at)}{detail}"
        )
    return "\n".join(lines) + "\n"


def _state(entry: OutboxEntry) -> str:
    """`envoyé le 15/03/2026 09:05`, `échoué, nouvel essai le …`: the state and its time."""
    label = STATE_LABELS[entry.state]
    if entry.state is RecallState.SENT and entry.sent_at is not None:
        return f"{label} le {local_time(entry.sent_at)}"
    if entry.state is RecallState.FAILED and entry.next_attempt_at is not None:
        return f"{label}, nouvel essai le {local_time(entry.next_attempt_at)}"
    if entry.state is RecallState.UNCERTAIN:
        return f"{label} (à vérifier, puis recalls retry {entry.id})"
    return label


def _kind(step: int) -> str:
    return "premier rappel" if step == 1 else f"relance n° {step - 1}"
