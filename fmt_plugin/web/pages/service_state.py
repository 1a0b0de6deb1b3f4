"""The service's own state: `/health` and `/status` for supervision, "État du service" for people.

`/health` and `/status` answer JSON without a session: they hold counts, times, names and
versions only (see `fmt_plugin.monitor`), and systemd or a monitoring agent polls them. The
"État du service" page shows the same content, readable, to a logged-in user.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from fmt_plugin.web.app import dashboard_of, page
from fmt_plugin.web.sessions import Session

Probe = Callable[[], Awaitable[tuple[int, Mapping[str, Any]]]]


def routes() -> list[BaseRoute]:
    """`/health`, `/status` (JSON) and `/etat` (the page)."""
    return [
        Route("/health", health, methods=["GET", "HEAD"]),
        Route("/status", status, methods=["GET", "HEAD"]),
        Route("/etat", page(state_page), methods=["GET"]),
    ]


async def health(request: Request) -> Response:
    """200 when the store, the listener and the scheduler are up; 503 naming what is not."""
    return await _json(request, "health")


async def status(request: Request) -> Response:
    """The service's counts, versions and next job runs."""
    return await _json(request, "status")


async def state_page(request: Request, session: Session) -> Response:
    """ "État du service": health checks and status, in French, for the IT provider."""
    dashboard = dashboard_of(request)
    monitor = dashboard.monitor
    if monitor is None:
        return dashboard.render(request, "state.html", health=None, status=None)
    _, health_body = await monitor.health()
    _, status_body = await monitor.status()
    return dashboard.render(
        request, "state.html", health=health_body, status=status_body
    )


async def _json(request: Request, name: str) -> Response:
    monitor = dashboard_of(request).monitor
    if monitor is None:
        return JSONResponse(
            {"erreur": "service non démarré"},
            status_code=HTTPStatus.SERVICE_UNAVAILABLE,
        )
    probe: Probe = getattr(monitor, name)
    code, body = await probe()
    return JSONResponse(dict(body), status_code=code)
