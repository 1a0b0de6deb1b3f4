"""The "Rappels" page: the recall outbox by state, a page at a time, and putting a recall back in the queue.

What `fmt-plugin recalls list` and `recalls retry` do, for the desk: counts by state, the
messages of one state (the state is a word in the query string, the only thing there with
the page number: no patient data in a URL), and for a failed, abandoned or uncertain recall
a button that puts it back in the queue through the outbox's own `retry` (which audits it).
Each view is audited with the number of recalls shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from fmt_plugin.accents import without_accents
from fmt_plugin.accounts.roles import Role
from fmt_plugin.installation import Installation
from fmt_plugin.recalls.model import RecallState
from fmt_plugin.rules.pack import RulePack
from fmt_plugin.storage.outbox import OutboxEntry, RecallStateError
from fmt_plugin.views.recalls import STATE_LABELS
from fmt_plugin.web.app import dashboard_of, page
from fmt_plugin.web.listing import PracticeListing
from fmt_plugin.web.sessions import Session

PER_PAGE = 50
#: The states a person may put back in the queue (`recalls retry`).
RETRIABLE = frozenset({RecallState.FAILED, RecallState.DEAD, RecallState.UNCERTAIN})


def state_word(state: RecallState) -> str:
    """`?etat=echoue`: the CLI's `--etat` word, the state's label without accents."""
    return "_".join(without_accents(STATE_LABELS[state]).split())


STATE_WORDS = {state_word(state): state for state in RecallState}
#: The order of the counts, as the desk reads them: what needs a person first.
SHOWN_ORDER = (
    RecallState.FAILED,
    RecallState.UNCERTAIN,
    RecallState.DEAD,
    RecallState.PLANNED,
    RecallState.SENDING,
    RecallState.SENT,
)


def may_work_recalls(role: Role) -> bool:
    """The GP and the assistant follow the recalls (they name patients and indicators)."""
    return role in (Role.MEDECIN, Role.ASSISTANT)


def routes() -> list[BaseRoute]:
    """`/rappels` (GET) and `/rappels/{id}/reessayer` (POST)."""
    return [
        Route(
            "/rappels", page(recalls_page, allowed=may_work_recalls), methods=["GET"]
        ),
        Route(
            "/rappels/{recall_id:int}/reessayer",
            page(retry_recall, allowed=may_work_recalls),
            methods=["POST"],
        ),
    ]


@dataclass(frozen=True)
class RecallRow:
    """One line of the table: the entry, who it is for, and the indicators' labels."""

    entry: OutboxEntry
    patient_name: str | None
    indicators: tuple[str, ...]
    state_label: str
    retriable: bool


@dataclass(frozen=True)
class _Outbox:
    counts: dict[str, int]
    entries: list[OutboxEntry]


async def recalls_page(request: Request, session: Session) -> Response:
    """Counts by state, then one page of the chosen state's recalls, newest first."""
    dashboard = dashboard_of(request)
    word = request.query_params.get("etat", "")
    state = STATE_WORDS.get(word)
    number = _page_number(request.query_params.get("page"))
    outbox = await dashboard.backend.run(_read_outbox, session.account, state, number)
    total = (
        outbox.counts[state.value] if state is not None else sum(outbox.counts.values())
    )
    pack = await dashboard.rule_pack()
    listing = await dashboard.listing()
    return dashboard.render(
        request,
        "recalls/index.html",
        counts=[
            (state_word(s), STATE_LABELS[s], outbox.counts[s.value])
            for s in SHOWN_ORDER
        ],
        total=sum(outbox.counts.values()),
        state_word=word if state is not None else "",
        state_label=STATE_LABELS[state] if state is not None else None,
        rows=[_row(entry, listing, pack) for entry in outbox.entries],
        page_number=number,
        pages=max(1, -(-total // PER_PAGE)),
        shown_total=total,
        result=_result(request),
    )


async def retry_recall(request: Request, session: Session) -> Response:
    """Put a failed, abandoned or uncertain recall back in the queue; back to the list."""
    dashboard = dashboard_of(request)
    recall_id = int(request.path_params["recall_id"])
    form = await request.form()
    word = str(form.get("etat", ""))
    done = await dashboard.backend.run(
        _retry, recall_id, session.account, dashboard.clock()
    )
    query = {"etat": word} if word in STATE_WORDS else {}
    query |= {"resultat": "remis" if done else "refuse", "n": str(recall_id)}
    return RedirectResponse(f"/rappels?{urlencode(query)}", status_code=303)


def _read_outbox(
    installation: Installation, actor: str, state: RecallState | None, number: int
) -> _Outbox:
    outbox = installation.store.outbox
    entries = outbox.latest(state, limit=PER_PAGE, offset=(number - 1) * PER_PAGE)
    installation.store.record_admin_action(
        actor=actor,
        action="web.recalls_view",
        detail=f"shown={len(entries)} state={state.value if state else 'all'}",
    )
    return _Outbox(outbox.counts(), entries)


def _retry(
    installation: Installation, recall_id: int, actor: str, now: datetime
) -> bool:
    """True once the recall is planned again; False when its state does not allow it."""
    outbox = installation.store.outbox
    entry = outbox.get(recall_id)
    if entry is None or entry.state not in RETRIABLE:
        return False
    try:
        outbox.retry(recall_id, actor=actor, now=now)
    except RecallStateError:
        # The delivery (or another person) moved it meanwhile: nothing was written.
        return False
    return True


def _row(entry: OutboxEntry, listing: PracticeListing, pack: RulePack) -> RecallRow:
    patient = listing.patient(entry.patient_id)
    return RecallRow(
        entry=entry,
        patient_name=f"{patient.nom} {patient.prenom}".strip() if patient else None,
        indicators=tuple(_indicator_label(pack, i) for i in entry.indicators),
        state_label=STATE_LABELS[entry.state],
        retriable=entry.state in RETRIABLE,
    )


def _indicator_label(pack: RulePack, indicator_id: str) -> str:
    try:
        return pack.indicator(indicator_id).label
    except KeyError:  # an indicator of an older pack, recalled before it changed
        return indicator_id


def _result(request: Request) -> tuple[str, str] | None:
    """The (kind, French sentence) of the action just done, from the redirect's query."""
    code = request.query_params.get("resultat")
    n = request.query_params.get("n", "")
    if not n.isdigit():
        return None
    if code == "remis":
        return (
            "success",
            f"Rappel n° {n} remis en file d'envoi : il partira au prochain envoi.",
        )
    if code == "refuse":
        return (
            "error",
            (
                f"Rappel n° {n} non remis en file : son état a changé entre-temps "
                "(rechargez la page)."
            ),
        )
    return None


def _page_number(value: str | None) -> int:
    if value is None or not value.isdigit():
        return 1
    return max(1, min(int(value), 1_000_000))
