"""The dashboard's pages, one module per page family; each gives its `routes()`."""

from __future__ import annotations

from starlette.routing import BaseRoute

from fmt_plugin.web.pages import letters, login, service_state


def all_routes() -> list[BaseRoute]:
    """Every route of the dashboard, in the order they are matched."""
    return [
        *login.routes(),
        *service_state.routes(),
        *letters.routes(),
    ]
