"""The "Quarantaine" page: HL7 messages not integrated, who they are about and why; replay or discard them.

What `fmt-plugin quarantine list|replay|discard` do, for the desk, through the same functions
(`fmt_plugin.quarantine`): a replay runs the ingest pipeline again (audited `hl7.replay` by
it) and re-evaluates the patients it integrates; a discard needs a reason from a closed list
and is audited `hl7.discard`. Who a message is about is read from its PID for this page only:
never logged, never in a URL (which carries the message's internal number and a result code
after an action). Each view is audited with the number of messages shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from fmt_plugin.accounts.roles import Role
from fmt_plugin.hl7.identity import received_identity
from fmt_plugin.installation import Installation
from fmt_plugin.quarantine import (
    DISCARD_REASONS,
    discard_quarantined,
    replay_quarantined,
)
from fmt_plugin.storage.inbox import MessageRecord
from fmt_plugin.views.hl7_inbox import CHANNEL_WORDS, field_location, identity_text
from fmt_plugin.web.app import dashboard_of, page
from fmt_plugin.web.listing import PracticeListing
from fmt_plugin.web.sessions import Session

PER_PAGE = 50
#: `?vue=ecartes`: the discarded messages instead of those waiting.
DISCARDED_VIEW = "ecartes"


def may_work_quarantine(role: Role) -> bool:
    """The GP and the assistant work the quarantine (it shows who a message names)."""
    return role in (Role.MEDECIN, Role.ASSISTANT)


def routes() -> list[BaseRoute]:
    """`/quarantaine` (GET), `/quarantaine/{id}/rejouer` and `/ecarter` (POST)."""
    allowed = may_work_quarantine
    return [
        Route("/quarantaine", page(quarantine_page, allowed=allowed), methods=["GET"]),
        Route(
            "/quarantaine/{message_id:int}/rejouer",
            page(replay_message, allowed=allowed),
            methods=["POST"],
        ),
        Route(
            "/quarantaine/{message_id:int}/ecarter",
            page(discard_message, allowed=allowed),
            methods=["POST"],
        ),
    ]


@dataclass(frozen=True)
class QuarantinedMessage:
    """One message as the page shows it (health data: the page only)."""

    record: MessageRecord
    received_at: datetime | None
    channel: str
    identity: str
    location: str
    origin: str
    replayed_at: datetime | None
    discarded_at: datetime | None


@dataclass(frozen=True)
class _Quarantine:
    waiting: int
    discarded: int
    shown: list[QuarantinedMessage]
    #: The message the result message is about (after a redirect), if any.
    subject: MessageRecord | None


async def quarantine_page(request: Request, session: Session) -> Response:
    """The messages waiting (or discarded), oldest first, a page at a time."""
    dashboard = dashboard_of(request)
    discarded_view = request.query_params.get("vue") == DISCARDED_VIEW
    number = _page_number(request.query_params.get("page"))
    subject_id = _message_number(request.query_params.get("n"))
    quarantine = await dashboard.backend.run(
        _read_quarantine, session.account, discarded_view, number, subject_id
    )
    total = quarantine.discarded if discarded_view else quarantine.waiting
    listing = await dashboard.listing()
    return dashboard.render(
        request,
        "quarantine/index.html",
        discarded_view=discarded_view,
        waiting=quarantine.waiting,
        discarded=quarantine.discarded,
        messages=quarantine.shown,
        reasons=DISCARD_REASONS,
        page_number=number,
        pages=max(1, -(-total // PER_PAGE)),
        result=_result(request, quarantine.subject, listing),
    )


async def replay_message(request: Request, session: Session) -> Response:
    """Run the message through the pipeline again; back to the list with what it became."""
    dashboard = dashboard_of(request)
    message_id = int(request.path_params["message_id"])
    form = await request.form()
    outcome = await dashboard.backend.run(
        _replay, message_id, session.account, dashboard.clock().date()
    )
    return _back(str(form.get("vue", "")), outcome, message_id)


async def discard_message(request: Request, session: Session) -> Response:
    """Set the message aside with the reason chosen; back to the list."""
    dashboard = dashboard_of(request)
    message_id = int(request.path_params["message_id"])
    form = await request.form()
    reason = str(form.get("motif", ""))
    if reason not in DISCARD_REASONS:
        return _back("", "motif", message_id)
    outcome = await dashboard.backend.run(
        _discard, message_id, session.account, reason, dashboard.clock()
    )
    return _back("", outcome, message_id)


def _read_quarantine(
    installation: Installation,
    actor: str,
    discarded_view: bool,
    number: int,
    subject_id: int | None,
) -> _Quarantine:
    inbox = installation.store.inbox
    waiting = inbox.quarantined()
    discarded = inbox.discarded()
    listed = discarded if discarded_view else waiting
    start = (number - 1) * PER_PAGE
    shown = [_shown(installation, r) for r in listed[start : start + PER_PAGE]]
    installation.store.record_admin_action(
        actor=actor,
        action="web.quarantine_view",
        detail=f"shown={len(shown)} view={'discarded' if discarded_view else 'waiting'}",
    )
    subject = inbox.get(subject_id) if subject_id is not None else None
    return _Quarantine(len(waiting), len(discarded), shown, subject)


def _shown(installation: Installation, record: MessageRecord) -> QuarantinedMessage:
    inbox = installation.store.inbox
    # Decrypted and parsed for this page only: never logged.
    identity = received_identity(inbox.raw(record.message_id))
    return QuarantinedMessage(
        record=record,
        received_at=_utc(record.received_at),
        channel=CHANNEL_WORDS.get(record.channel, record.channel),
        identity=identity_text(identity),
        location=field_location(record.error_location),
        origin=inbox.origin(record.message_id),
        replayed_at=_utc(record.replayed_at),
        discarded_at=_utc(record.discarded_at),
    )


def _replay(
    installation: Installation, message_id: int, actor: str, as_of: date
) -> str:
    """ "integre", "toujours" (quarantined again, new reason stored) or "inconnu"."""
    record = installation.store.inbox.get(message_id)
    if record is None or record.state != "quarantined":
        return "inconnu"
    (outcome,) = replay_quarantined(
        installation, [message_id], actor=actor, as_of=as_of
    )
    return "integre" if outcome.accepted else "toujours"


def _discard(
    installation: Installation, message_id: int, actor: str, reason: str, now: datetime
) -> str:
    """ "ecarte", or "inconnu" when the message is not waiting in quarantine."""
    store = installation.store
    if message_id not in {r.message_id for r in store.inbox.quarantined()}:
        return "inconnu"
    discard_quarantined(store, [message_id], actor=actor, at=now, reason=reason)
    return "ecarte"


def _back(view: str, outcome: str, message_id: int) -> Response:
    query = {"vue": DISCARDED_VIEW} if view == DISCARDED_VIEW else {}
    query |= {"resultat": outcome, "n": str(message_id)}
    return RedirectResponse(f"/quarantaine?{urlencode(query)}", status_code=303)


@dataclass(frozen=True)
class Result:
    """The sentence shown after an action; `patient` links the patient it integrated to."""

    kind: str  # "success" or "error"
    text: str
    patient_id: str | None = None
    patient_name: str | None = None


def _result(
    request: Request, subject: MessageRecord | None, listing: PracticeListing
) -> Result | None:
    """What the action just done became, read from the store rather than from the URL."""
    code = request.query_params.get("resultat")
    n = _message_number(request.query_params.get("n"))
    if code is None or n is None:
        return None
    if code == "motif":
        return Result("error", f"Choisissez un motif pour écarter le message n° {n}.")
    if code == "inconnu" or subject is None:
        return Result(
            "error",
            f"Message n° {n} : il n'est plus en quarantaine (intégré ou écarté "
            "entre-temps).",
        )
    if code == "ecarte":
        return Result(
            "success",
            f"Message n° {n} écarté : gardé chiffré, il n'est plus compté en "
            "quarantaine et peut encore être rejoué depuis les messages écartés.",
        )
    if code == "integre" and subject.state == "accepted" and subject.patient_id:
        patient = listing.patient(subject.patient_id)
        return Result(
            "success",
            f"Message n° {n} intégré ; les indicateurs du patient sont recalculés :",
            subject.patient_id,
            f"{patient.nom} {patient.prenom}" if patient else subject.patient_id,
        )
    if code == "toujours":
        return Result(
            "error",
            f"Message n° {n} rejoué sans succès, il reste en quarantaine : "
            f"{subject.reason}",
        )
    return None


def _utc(text: str | None) -> datetime | None:
    """A stored UTC instant (older rows wrote it without its offset)."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _message_number(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


def _page_number(value: str | None) -> int:
    if value is None or not value.isdigit():
        return 1
    return max(1, min(int(value), 1_000_000))
