"""The amelipro-like lists: the indicators with their counts, and each one's patients.

`/indicateurs` shows the pack's indicators with their counts by status and their taux;
`/indicateurs/{code}` the patients an indicator concerns, filtered, sorted and paged in memory
from the dashboard's read model (no evaluation, no decryption per view). The search text is
posted and kept in the session, never in a URL. The list's checkboxes post to `/lettres`,
which prints the invitation letters. Every view that shows patients is audited.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from fmt_plugin.rules.model import Status
from fmt_plugin.rules.pack import GROUPS, Indicator, RulePack
from fmt_plugin.web.app import dashboard_of, page
from fmt_plugin.web.list_query import SORT_KEYS, ListParams, list_page
from fmt_plugin.web.sessions import Session

#: Longest search text kept (a name and a first name fit easily).
MAX_SEARCH = 100
GROUP_LABELS = {
    "vaccination": "Vaccinations",
    "depistage": "Dépistages",
    "suivi": "Suivi",
}
COLUMNS = (
    ("nom", "Nom"),
    ("prenom", "Prénom"),
    ("age", "Âge"),
    ("nir", "NIR"),
    ("statut", "Statut"),
    ("echeance", "Échéance"),
    ("dernier_acte", "Dernier acte"),
)
FILTERS = (
    (None, "Tous"),
    (Status.A_VERIFIER.value, Status.A_VERIFIER.label),
    (Status.A_VENIR.value, Status.A_VENIR.label),
    (Status.FAIT.value, Status.FAIT.label),
    (Status.EXCLU.value, Status.EXCLU.label),
)
STATUS_LABELS = {status.value: status.label for status in Status}
assert tuple(key for key, _ in COLUMNS) == SORT_KEYS  # noqa: S101 -- one list of columns


def routes() -> list[BaseRoute]:
    """`/indicateurs`, `/indicateurs/{code}` and its search (POST)."""
    return [
        Route("/indicateurs", page(indicators), methods=["GET"]),
        Route("/indicateurs/{code}", page(indicator_list), methods=["GET"]),
        Route(
            "/indicateurs/{code}/recherche", page(indicator_search), methods=["POST"]
        ),
    ]


@dataclass(frozen=True)
class IndicatorGroup:
    """The indicators of one group (vaccination, dépistage, suivi), in the pack's order."""

    label: str
    indicators: list[Indicator]


async def indicators(request: Request, session: Session) -> Response:
    """The pack's indicators, by group, with their counts by status and their taux."""
    dashboard = dashboard_of(request)
    pack = await dashboard.rule_pack()
    listing = await dashboard.listing()
    return dashboard.render(
        request,
        "lists/index.html",
        groups=_groups(pack),
        rates=listing.rates(pack),
        pack=pack,
    )


async def indicator_list(request: Request, session: Session) -> Response:
    """One indicator's patients: one page, with its status filter, sort and search."""
    dashboard = dashboard_of(request)
    pack = await dashboard.rule_pack()
    indicator = await _indicator(request)
    params = ListParams.parse(request.query_params)
    search = session.list_search.get(indicator.id, "")
    listing = await dashboard.listing()
    concerned = list(listing.concerned(indicator.id))
    shown = list_page(concerned, params, today=dashboard.clock().date(), search=search)
    rate = listing.rates(pack)[indicator.id]
    if shown.rows:
        await dashboard.backend.audit(
            session.account,
            action="web.list_view",
            target=indicator.id,
            detail=f"{len(shown.rows)} patient(s)",
        )
    return dashboard.render(
        request,
        "lists/indicator.html",
        indicator=indicator,
        listed=shown,
        params=shown.params,
        search=search,
        rate=rate,
        columns=COLUMNS,
        filters=FILTERS,
        status_labels=STATUS_LABELS,
    )


async def indicator_search(request: Request, session: Session) -> Response:
    """Keep the posted search text in the session (empty: clear it); back to the list."""
    indicator = await _indicator(request)
    form = await request.form()
    text = form.get("q")
    query = " ".join(str(text or "").split())[:MAX_SEARCH]
    if query:
        session.list_search[indicator.id] = query
    else:
        session.list_search.pop(indicator.id, None)
    kept = ListParams.parse({k: str(v) for k, v in form.items() if k != "page"})
    return RedirectResponse(
        f"/indicateurs/{indicator.id}{kept.query()}", status_code=303
    )


async def _indicator(request: Request) -> Indicator:
    """The indicator of the path, or a 404 page."""
    pack = await dashboard_of(request).rule_pack()
    code = request.path_params["code"]
    if code not in pack.indicator_ids:
        raise HTTPException(status_code=404)
    return pack.indicator(code)


def _groups(pack: RulePack) -> list[IndicatorGroup]:
    return [
        IndicatorGroup(
            GROUP_LABELS.get(group, group),
            [i for i in pack.indicators if i.group == group],
        )
        for group in GROUPS
        if any(i.group == group for i in pack.indicators)
    ]
