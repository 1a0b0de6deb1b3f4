"""Printing the invitation letters: the patients chosen in a list, as one PDF to download.

Any page may offer it with a POST form to `/lettres`: the session's `csrf`, `indicateur`
(an indicator id of the rule pack) and one `patient` field per chosen patient (internal
ids; never a name in a URL). Patients for whom the indicator is done or excluded get no
letter; a patient the list no longer holds, or whom the indicator does not concern, stops
the printing with a message (the page was stale). The letters are laid out on a thread of
their own, so that the dashboard's store thread stays free for the other pages; who
printed whose letter is audited before the file leaves.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fmt_plugin.accounts.roles import Role
from fmt_plugin.config import FmtConfig
from fmt_plugin.installation import Installation
from fmt_plugin.letters import Invitation, invitation_letters_pdf
from fmt_plugin.recalls.letter import Letters, LetterTemplateError
from fmt_plugin.rules.model import Status
from fmt_plugin.rules.pack import Indicator
from fmt_plugin.timezone import PARIS
from fmt_plugin.web.app import dashboard_of, page
from fmt_plugin.web.listing import PracticeListing
from fmt_plugin.web.sessions import Session

#: The most letters one file holds: a few seconds to lay out, a printer's afternoon.
MAX_LETTERS = 500
#: The statuses a letter invites to: the act is due now or soon.
INVITED = frozenset({Status.A_VERIFIER, Status.A_VENIR})
#: A patient the page showed is gone, or the indicator no longer concerns them.
STALE = (
    "Un des patients choisis n'est plus dans la patientèle ou n'est plus concerné "
    "par cet indicateur : rechargez la liste et recommencez."
)
ACTION = "web.letters"
PATIENT_ACTION = "web.letters.patient"


def routes() -> list[BaseRoute]:
    """`/lettres` (POST): the letters PDF."""
    return [Route("/lettres", page(print_letters, allowed=may_print), methods=["POST"])]


def may_print(role: Role) -> bool:
    """The GP and the assistant print letters; the IT provider sees no patient."""
    return role in (Role.MEDECIN, Role.ASSISTANT)


class SelectionRefused(Exception):
    """The posted choice cannot be printed; `message` says why and what to do, in French."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Chosen:
    """One chosen patient the letter invites, with their status for the indicator."""

    patient_id: str
    status: Status
    due: date | None = field(repr=False)


async def print_letters(request: Request, session: Session) -> Response:
    """The chosen patients' invitation letters for `indicateur`, as an attached PDF."""
    dashboard = dashboard_of(request)
    form = await request.form()
    try:
        indicator = _indicator((await dashboard.rule_pack()).indicators, form)
        chosen = _chosen(await dashboard.listing(), indicator, _patient_ids(form))
    except SelectionRefused as refused:
        return _error(request, refused.message)
    now = dashboard.clock()
    config, invitations = await dashboard.backend.run(_invitations, chosen)
    if not invitations:
        return _error(request, STALE)
    try:
        pdf = await asyncio.to_thread(
            invitation_letters_pdf,
            config.practice,
            indicator,
            invitations,
            now=now,
            letters=_letters(config.recalls.templates, config.practice.doctor),
            policy=config.recalls.policy,
        )
    except LetterTemplateError as exc:
        # The start-up check renders samples; a branch it did not reach can still fail.
        return _error(
            request, f"Lettres impossibles à composer : {exc}", status_code=500
        )
    printed = [invitation.patient.patient_id for invitation in invitations]
    await dashboard.backend.run(_audit, session.account, indicator.id, printed)
    # The indicator id and the day only: a downloaded file's name ends up in histories.
    filename = f"lettres-{indicator.id}-{now.astimezone(PARIS).date().isoformat()}.pdf"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _indicator(indicators: Sequence[Indicator], form: FormData) -> Indicator:
    code = form.get("indicateur")
    for indicator in indicators:
        if indicator.id == code:
            return indicator
    raise SelectionRefused(
        "Indicateur inconnu : ouvrez la liste d'un indicateur depuis « Listes », "
        "cochez les patients à inviter, puis « Imprimer les lettres d'invitation »."
    )


def _patient_ids(form: FormData) -> list[str]:
    """The posted ids, each once, in the list's order."""
    ids = [value for value in form.getlist("patient") if isinstance(value, str)]
    unique = list(dict.fromkeys(value.strip() for value in ids if value.strip()))
    if not unique:
        raise SelectionRefused(
            "Aucun patient choisi : cochez dans la liste les patients à inviter, "
            "puis « Imprimer les lettres d'invitation »."
        )
    if len(unique) > MAX_LETTERS:
        raise SelectionRefused(
            f"{len(unique)} patients choisis : un fichier contient au plus "
            f"{MAX_LETTERS} lettres. Cochez-en moins et imprimez en plusieurs fois."
        )
    return unique


def _chosen(
    listing: PracticeListing, indicator: Indicator, patient_ids: Sequence[str]
) -> list[Chosen]:
    """The patients to invite: those for whom `indicator` is due; refused if none is."""
    chosen = []
    for patient_id in patient_ids:
        known = listing.statuses(patient_id).get(indicator.id)
        if listing.patient(patient_id) is None or known is None:
            raise SelectionRefused(STALE)
        status = Status(known.status)
        if status in INVITED:
            chosen.append(Chosen(patient_id, status, known.due))
    if not chosen:
        raise SelectionRefused(
            f"« {indicator.label} » est déjà fait pour les patients choisis, ou ils en "
            "sont exclus : aucune lettre à imprimer. Cochez des patients « à vérifier » "
            "ou « à venir »."
        )
    return chosen


def _invitations(
    installation: Installation, chosen: Sequence[Chosen]
) -> tuple[FmtConfig, list[Invitation]]:
    """The configuration and the chosen patients' identities (on the store's thread).

    A patient deactivated since the listing's refresh is left out, and gets no letter.
    """
    invitations = []
    for one in chosen:
        patient = installation.store.get_patient(one.patient_id)
        if patient is not None:
            invitations.append(Invitation(patient, one.status, one.due))
    return installation.config, invitations


def _audit(
    installation: Installation,
    account: str,
    indicator_id: str,
    patient_ids: Sequence[str],
) -> None:
    """Who printed whose letter: one entry for the file, one per patient, together."""
    store = installation.store
    with store.transaction():
        store.audit_in_transaction(
            actor=account,
            action=ACTION,
            target=indicator_id,
            detail=f"{len(patient_ids)} lettre(s)",
        )
        for patient_id in patient_ids:
            store.audit_in_transaction(
                actor=account,
                action=PATIENT_ACTION,
                target=patient_id,
                detail=indicator_id,
            )


@functools.lru_cache(maxsize=4)
def _letters(folder: Path | None, doctor: str) -> Letters:
    """The installation's templates, compiled once (like the recall channels' own)."""
    return Letters(folder, doctor=doctor)


def _error(request: Request, message: str, *, status_code: int = 400) -> Response:
    return dashboard_of(request).render(
        request, "error.html", status_code=status_code, message=message
    )
