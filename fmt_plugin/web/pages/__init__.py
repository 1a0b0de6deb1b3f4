"""The dashboard's pages, one module per page family; each gives its `routes()`."""

from __future__ import annotations

from starlette.routing import BaseRoute

from fmt_plugin.web.pages import (
    audit,
    history,
    letters,
    lists,
    login,
    overview,
    patients,
    quarantine,
    recalls,
    remuneration,
    service_state,
)


def all_routes() -> list[BaseRoute]:
    """Every route of the dashboard, in the order they are matched."""
    return [
        *login.routes(),
        *service_state.routes(),
        *overview.routes(),
        *lists.routes(),
        *letters.routes(),
        *patients.routes(),
        *recalls.routes(),
        *quarantine.routes(),
        *history.routes(),
        *remuneration.routes(),
        *audit.routes(),
    ]
