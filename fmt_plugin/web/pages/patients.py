"""The patient search and the "Suivi prévention" page, where the practice records decisions.

The header's search box asks `/api/patients/recherche` for suggestions (POSTed: a name never
goes into a URL) from the dashboard's in-memory listing; without JavaScript the same box
posts to `/patients/recherche`. The patient page evaluates that one patient live, as
`fmt-plugin patient` does, and says the same things (`fmt_plugin.views.patient_sheet`); the
statuses it finds are remembered, so the lists agree with it. Decisions are checked as
`fmt-plugin override` checks them, and an assistant cannot record a medical exclusion.

Every search (its count, never its text), every patient shown, every decision and every
revocation is in the audit log, under the account's name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from fmt_plugin.accounts.roles import Role
from fmt_plugin.decision_checks import check_concerned
from fmt_plugin.errors import UsageError
from fmt_plugin.evaluation import evaluate_practice
from fmt_plugin.installation import Installation
from fmt_plugin.model import Patient
from fmt_plugin.rules import Override, PatientEvaluation, RulePack
from fmt_plugin.status_tracking import track_status_changes
from fmt_plugin.views import french
from fmt_plugin.views.decisions import (
    KIND_WORDS,
    indicator_label,
    lowered,
    render_recorded,
    revoked_text,
    what_it_says,
)
from fmt_plugin.views.patient_sheet import (
    NO_ACT_LINE,
    NOTHING_LINE,
    OPPOSITION_LINE,
    RETIRED_LINE,
    age_text,
    indicator_groups,
    override_text,
    pack_text,
)
from fmt_plugin.web.app import dashboard_of, page, refusal
from fmt_plugin.web.decision_form import (
    DecisionForbidden,
    kind_choices,
    parse_decision,
)
from fmt_plugin.web.listing import ListedPatient
from fmt_plugin.web.sessions import Session

#: Fewer characters find too many patients to be of use (and say too little to audit).
MIN_QUERY = 2
MAX_SUGGESTIONS = 10
MAX_RESULTS = 50
#: Longest search text read (a name, not a document).
MAX_QUERY = 100
#: The form fields a failed decision gives back to its form.
DECISION_FIELDS = ("indicateur", "type", "motif", "date", "expire")


def may_see_patients(role: Role) -> bool:
    """The GP and the assistant see patients; the IT provider manages, never reads, them."""
    return role in (Role.MEDECIN, Role.ASSISTANT)


def routes() -> list[BaseRoute]:
    """The search (JSON and page), the patient page, its decisions and revocations."""
    guarded = {"allowed": may_see_patients}
    return [
        Route(
            "/api/patients/recherche", page(suggestions, **guarded), methods=["POST"]
        ),
        Route("/patients/recherche", page(search_page, **guarded), methods=["POST"]),
        Route("/patients/{patient_id}", page(patient_page, **guarded), methods=["GET"]),
        Route(
            "/patients/{patient_id}/decisions",
            page(record_decision, **guarded),
            methods=["POST"],
        ),
        Route(
            "/patients/{patient_id}/decisions/{override_id:int}/revocation",
            page(revoke_decision, **guarded),
            methods=["POST"],
        ),
    ]


# --- search -------------------------------------------------------------------------------


async def suggestions(request: Request, session: Session) -> Response:
    """`{"q": "du"}` → at most 10 `{"id", "label"}`, by name; [] under two characters."""
    try:
        body = json.loads(await request.body())
    except ValueError:
        body = None
    text = body.get("q") if isinstance(body, dict) else None
    found = await _search(request, session, text, MAX_SUGGESTIONS)
    return JSONResponse([{"id": p.patient_id, "label": label(p)} for p in found])


async def search_page(request: Request, session: Session) -> Response:
    """The header's search without JavaScript: the patient found, or the list to choose."""
    form = await request.form()
    text = form.get("q")
    found = await _search(request, session, text, MAX_RESULTS + 1)
    if len(found) == 1:
        return RedirectResponse(f"/patients/{found[0].patient_id}", status_code=303)
    too_short = not isinstance(text, str) or len(text.strip()) < MIN_QUERY
    return dashboard_of(request).render(
        request,
        "patients/search.html",
        query=text if isinstance(text, str) else "",
        too_short=too_short,
        found=[(p, label(p)) for p in found[:MAX_RESULTS]],
        more=len(found) > MAX_RESULTS,
    )


def label(patient: ListedPatient) -> str:
    """`DUPONT Marie, né(e) le 12/03/1961`, as the suggestions list it."""
    name = " ".join(part for part in (patient.nom, patient.prenom) if part)
    if patient.birth_date is None:
        return name or patient.patient_id
    return f"{name}, né(e) le {french.day(patient.birth_date)}"


async def _search(
    request: Request, session: Session, text: object, limit: int
) -> list[ListedPatient]:
    """The patients `text` names (none under two characters); the count is audited."""
    if not isinstance(text, str) or len(text.strip()) < MIN_QUERY:
        return []
    dashboard = dashboard_of(request)
    found = (await dashboard.listing()).search(text[:MAX_QUERY], limit=limit)
    await dashboard.backend.audit(
        session.account, action="web.patient_search", target=str(len(found))
    )
    return found


# --- the patient page ---------------------------------------------------------------------


@dataclass(frozen=True)
class PatientFile:
    """One patient evaluated for the page, with the decisions in force."""

    patient: Patient
    evaluation: PatientEvaluation
    overrides: Sequence[Override]
    active: bool
    #: The decision the page was asked to confirm the revocation of, if it is this patient's.
    revoked: Override | None = None


async def patient_page(request: Request, session: Session) -> Response:
    """The patient's "Suivi prévention", with the confirmation of a decision just taken."""
    patient_id = request.path_params["patient_id"]
    revoked = _flag(request, "revocation")
    return await _show(request, session, patient_id, revoked_id=revoked)


async def record_decision(request: Request, session: Session) -> Response:
    """Record the form's decision; back to the page (303) or the page with the error."""
    dashboard = dashboard_of(request)
    patient_id = request.path_params["patient_id"]
    form = await request.form()
    fields = {name: str(form.get(name, "")) for name in DECISION_FIELDS}
    pack = await dashboard.rule_pack()
    today = dashboard.clock().date()
    try:
        decision = parse_decision(
            fields, pack=pack, role=session.role, recorded_on=today
        )
        saved = await dashboard.backend.run(
            _record,
            pack,
            decision.override(patient_id, session.account, today),
            session.account,
        )
    except DecisionForbidden as forbidden:
        return refusal(request, str(forbidden))
    except _UnknownPatient:
        return _not_found(request)
    except UsageError as refused:
        return await _show(
            request, session, patient_id, failed={**fields, "message": str(refused)}
        )
    return RedirectResponse(
        f"/patients/{patient_id}?decision={saved.override_id}", status_code=303
    )


async def revoke_decision(request: Request, session: Session) -> Response:
    """Revoke one of the patient's decisions; an exclusion only by who may record one."""
    dashboard = dashboard_of(request)
    patient_id = request.path_params["patient_id"]
    override_id: int = request.path_params["override_id"]
    pack = await dashboard.rule_pack()
    try:
        await dashboard.backend.run(
            _revoke,
            pack,
            patient_id,
            override_id,
            session,
            dashboard.clock().date(),
        )
    except DecisionForbidden as forbidden:
        return refusal(request, str(forbidden))
    except UsageError as refused:
        return await _show(
            request, session, patient_id, failed={"message": str(refused)}
        )
    return RedirectResponse(
        f"/patients/{patient_id}?revocation={override_id}", status_code=303
    )


async def _show(
    request: Request,
    session: Session,
    patient_id: str,
    *,
    revoked_id: int | None = None,
    failed: Mapping[str, str] | None = None,
) -> Response:
    """The page of `patient_id` (404 when unknown), audited as `web.patient_view`."""
    dashboard = dashboard_of(request)
    pack = await dashboard.rule_pack()
    as_of = dashboard.clock().date()
    found = await dashboard.backend.run(
        _evaluated, pack, patient_id, as_of, session.account, revoked_id
    )
    if found is None:
        return _not_found(request)
    return dashboard.render(
        request,
        "patients/patient.html",
        status_code=400 if failed else 200,
        **_context(pack, found, session, _confirmation(request, pack, found), failed),
    )


def _context(
    pack: RulePack,
    found: PatientFile,
    session: Session,
    confirmation: str | None,
    failed: Mapping[str, str] | None,
) -> dict[str, Any]:
    patient, evaluation = found.patient, found.evaluation
    by_indicator: dict[str, list[Override]] = {}
    for override in found.overrides:
        by_indicator.setdefault(override.indicator, []).append(override)
    return {
        "patient": patient,
        "as_of": evaluation.as_of,
        "age": age_text(patient, evaluation.as_of),
        "pack_text": pack_text(pack),
        "groups": indicator_groups(pack, patient, evaluation, found.overrides),
        "decisions": [
            (o, override_text(pack, o, with_reason=False)) for o in found.overrides
        ],
        "by_indicator": {
            indicator: [lowered(what_it_says(o)) for o in overrides]
            for indicator, overrides in by_indicator.items()
        },
        "kinds": kind_choices(session.role) if found.active else [],
        "may_revoke": {
            o.override_id for o in found.overrides if session.role.may_record(o.kind)
        },
        "confirmation": confirmation,
        "failed": failed or {},
        "retired_line": None if found.active else RETIRED_LINE,
        "opposition_line": OPPOSITION_LINE if patient.opposition else None,
        "nothing_line": NOTHING_LINE,
        "no_act_line": NO_ACT_LINE,
    }


def _confirmation(request: Request, pack: RulePack, found: PatientFile) -> str | None:
    """The French confirmation the query flag of the redirect asks for (ids only)."""
    recorded = _flag(request, "decision")
    if recorded is not None:
        override = next((o for o in found.overrides if o.override_id == recorded), None)
        return render_recorded(pack, override).strip() if override else None
    if found.revoked is not None:
        override = found.revoked
        return (
            f"Décision n° {override.override_id} révoquée "
            f"({indicator_label(pack, override.indicator)} : "
            f"{lowered(what_it_says(override))}) : elle ne s'applique plus et reste "
            "dans l'historique."
        )
    return None


def _flag(request: Request, name: str) -> int | None:
    value = request.query_params.get(name, "")
    return int(value) if value.isdigit() else None


def _not_found(request: Request) -> Response:
    return dashboard_of(request).render(
        request, "error.html", status_code=404, message="Patient introuvable."
    )


# --- on the backend's thread --------------------------------------------------------------


class _UnknownPatient(UsageError):
    """The decision names a patient the store does not know (the page is a 404)."""


def _evaluated(
    installation: Installation,
    pack: RulePack,
    patient_id: str,
    as_of: date,
    actor: str,
    revoked_id: int | None,
) -> PatientFile | None:
    """The patient evaluated at `as_of` (None when unknown), the view audited meanwhile.

    The statuses found replace the remembered ones (and changes reach the adapters), as
    the background refresh would do: the lists then agree with the page.
    """
    store = installation.store
    practice = evaluate_practice(
        store, installation.pm, pack, as_of, patient_ids=[patient_id]
    )
    patient = practice.patients.get(patient_id)
    if patient is None:
        return None
    active = patient_id in store.patient_ids()
    if active:
        track_status_changes(store, installation.pm, practice)
    store.record_admin_action(actor=actor, action="web.patient_view", target=patient_id)
    revoked = store.override(revoked_id) if revoked_id is not None else None
    return PatientFile(
        patient,
        practice.evaluations[0],
        practice.overrides.get(patient_id, ()),
        active,
        revoked if revoked is not None and revoked.patient_id == patient_id else None,
    )


def _record(
    installation: Installation, pack: RulePack, override: Override, actor: str
) -> Override:
    """Check that the indicator concerns the patient, record (audited by the store)."""
    store = installation.store
    if store.get_patient(override.patient_id) is None:
        raise _UnknownPatient(override.patient_id)
    check_concerned(
        store,
        installation.pm,
        pack,
        override.patient_id,
        override.indicator,
        override.recorded_on,
    )
    saved = store.add_override(override, actor=actor)
    _remember_statuses(installation, pack, override.patient_id, override.recorded_on)
    return saved


def _revoke(
    installation: Installation,
    pack: RulePack,
    patient_id: str,
    override_id: int,
    session: Session,
    as_of: date,
) -> None:
    """Revoke one decision of this patient (audited by the store), if the role may."""
    store = installation.store
    override = store.override(override_id)
    if override is None or override.patient_id != patient_id:
        raise UsageError(f"décision n° {override_id} introuvable pour ce patient")
    if not session.role.may_record(override.kind):
        raise DecisionForbidden(
            f"Le rôle « {session.role.label} » ne peut pas révoquer une décision "
            f"« {KIND_WORDS[override.kind]} »."
        )
    revocation = store.override_revocations(patient_id).get(override_id)
    if revocation is not None:  # a second tab, a double click
        raise UsageError(
            f"décision n° {override_id} déjà {lowered(revoked_text(revocation))}"
        )
    store.revoke_override(override_id, actor=session.account)
    _remember_statuses(installation, pack, patient_id, as_of)


def _remember_statuses(
    installation: Installation, pack: RulePack, patient_id: str, as_of: date
) -> None:
    practice = evaluate_practice(
        installation.store, installation.pm, pack, as_of, patient_ids=[patient_id]
    )
    track_status_changes(installation.store, installation.pm, practice)
