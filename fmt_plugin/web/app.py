"""The dashboard's ASGI application: pages, the status routes, and what guards them.

`create_app(dashboard)` assembles the Starlette application from the page modules of
`fmt_plugin.web.pages` (each gives its routes), the vendored static files, and the
middleware every answer goes through (security headers, the access log without query
strings). Pages are server-rendered Jinja2 templates in French.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from fmt_plugin import __version__
from fmt_plugin.accounts.login import LoginPolicy
from fmt_plugin.accounts.roles import Role
from fmt_plugin.config import HttpSettings
from fmt_plugin.evaluation import select_rule_pack
from fmt_plugin.monitor import ServiceMonitor
from fmt_plugin.rules.pack import RulePack
from fmt_plugin.timezone import PARIS
from fmt_plugin.views import french
from fmt_plugin.web.failures import InternalErrorPage
from fmt_plugin.web.headers import SecurityHeaders
from fmt_plugin.web.listing import PracticeListing
from fmt_plugin.web.practice import PracticeBackend
from fmt_plugin.web.sessions import (
    COOKIE_NAME,
    Session,
    SessionStore,
    credential_of,
)

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
#: The form field (or, for scripts, the header) that carries the session's CSRF token.
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"

Handler = Callable[[Request, Session], Awaitable[Response]]


def _paris_now() -> datetime:
    return datetime.now(PARIS)


@dataclass
class Dashboard:
    """What every page needs: the practice's data, the sessions, the templates, the clock."""

    backend: PracticeBackend
    settings: HttpSettings
    #: The time, as a function: tests move it to expire a session or end a lock-out.
    clock: Callable[[], datetime] = _paris_now
    #: The running service's parts, for `/health`, `/status` and the "État" page.
    monitor: ServiceMonitor | None = None
    practice_name: str = "Cabinet"
    sessions: SessionStore = field(init=False)
    templates: Environment = field(init=False)
    #: The patients and statuses the lists read, refreshed before each page that needs it.
    _listing: PracticeListing = field(init=False, default_factory=PracticeListing)
    _pack: RulePack | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.sessions = SessionStore(
            timedelta(minutes=self.settings.session_idle_minutes)
        )
        self.templates = _environment()

    async def listing(self) -> PracticeListing:
        """The read model, brought up to date with the store (only what changed is read).

        Use the result on the event loop, before the next `await` that could refresh it.
        """
        await self.backend.run(
            lambda installation: self._listing.refresh(installation.store)
        )
        return self._listing

    async def account_may_continue(self, session: Session) -> bool:
        """False once the account was disabled, its role or password changed (`users`).

        Checked on every page: the CLI changes accounts from another process, and a
        disabled account must not keep a session open until it idles out.
        """
        account = await self.backend.run(
            lambda installation: installation.store.accounts.find(session.account)
        )
        return (
            account is not None
            and account.disabled_at is None
            and account.role is session.role
            and credential_of(account.password_hash) == session.credential
        )

    async def rule_pack(self) -> RulePack:
        """The installation's rule pack (read once)."""
        if self._pack is None:
            self._pack = await self.backend.run(
                lambda installation: select_rule_pack(
                    installation.config, installation.pm
                )
            )
        return self._pack

    @property
    def login_policy(self) -> LoginPolicy:
        """Lock-out after failed log-ins, as `[http]` sets it."""
        return LoginPolicy(
            max_failures=self.settings.login_max_failures,
            lockout=timedelta(minutes=self.settings.login_lockout_minutes),
        )

    @property
    def secure_cookies(self) -> bool:
        """Cookies are `Secure` when the dashboard is served over TLS."""
        return self.settings.tls_cert is not None

    def render(
        self,
        request: Request,
        template: str,
        *,
        status_code: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        """A page from `template`, with the session, its CSRF token and the menu."""
        session: Session | None = getattr(request.state, "session", None)
        html = self.templates.get_template(template).render(
            session=session,
            csrf=session.csrf_token if session else "",
            practice_name=self.practice_name,
            version=__version__,
            path=request.url.path,
            today=self.clock().date(),
            **context,
        )
        return HTMLResponse(html, status_code=status_code)


def dashboard_of(request: Request) -> Dashboard:
    """The `Dashboard` the application was made for."""
    dashboard: Dashboard = request.app.state.dashboard
    return dashboard


def page(
    handler: Handler, *, allowed: Callable[[Role], bool] | None = None
) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint for logged-in users: session checked, CSRF checked on POST, role checked.

    Without a live session the browser goes to the log-in page (which says when the session
    expired). A POST without the session's CSRF token, or a role `allowed` refuses, gets a
    403 page and changes nothing.
    """

    async def endpoint(request: Request) -> Response:
        dashboard = dashboard_of(request)
        token = request.cookies.get(COOKIE_NAME)
        session = dashboard.sessions.get(token, now=dashboard.clock())
        if session is None or not await dashboard.account_may_continue(session):
            dashboard.sessions.close(token)
            return _to_login(request, expired=token is not None)
        request.state.session = session
        if request.method == "POST" and not await _csrf_ok(request, session):
            log.warning(
                "refused a POST without a valid CSRF token on %s", request.url.path
            )
            return refusal(
                request,
                "Formulaire refusé : jeton de sécurité absent ou périmé. "
                "Rechargez la page et recommencez.",
            )
        if allowed is not None and not allowed(session.role):
            return refusal(
                request,
                f"Cette page n'est pas ouverte au rôle « {session.role.label} ».",
            )
        return await handler(request, session)

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


def refusal(request: Request, message: str) -> HTMLResponse:
    """The 403 page, with the reason in French."""
    return dashboard_of(request).render(
        request, "refused.html", status_code=403, message=message
    )


async def _csrf_ok(request: Request, session: Session) -> bool:
    header = request.headers.get(CSRF_HEADER)
    if header is not None:
        return session.csrf_matches(header)
    form = await request.form()
    value = form.get(CSRF_FIELD)
    return session.csrf_matches(value if isinstance(value, str) else None)


def _to_login(request: Request, *, expired: bool) -> Response:
    if request.method == "GET" and not request.url.path.startswith("/api/"):
        query = {"suite": request.url.path} if request.url.path != "/" else {}
        if expired:
            query = {"expiree": "1", **query}
        target = "/connexion" + (f"?{urlencode(query, safe='/')}" if query else "")
        response: Response = RedirectResponse(target, status_code=303)
    else:
        response = Response("session expirée", status_code=401)
    if expired:
        response.delete_cookie(COOKIE_NAME, path="/")
    return response


def create_app(
    dashboard: Dashboard, routes: list[BaseRoute] | None = None
) -> Starlette:
    """The dashboard application: every page module's routes, static files, middleware."""
    from fmt_plugin.web.pages import all_routes

    app = Starlette(
        routes=[
            *(routes if routes is not None else all_routes()),
            Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
        ],
        exception_handlers={HTTPException: _http_error},
    )
    app.state.dashboard = dashboard
    # The last added runs first: headers wrap everything, the error page included.
    app.add_middleware(InternalErrorPage)
    app.add_middleware(SecurityHeaders)
    return app


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    messages = {
        404: "Page introuvable.",
        405: "Méthode non permise sur cette page.",
    }
    message = messages.get(status, "Requête refusée.")
    if request.url.path in ("/health", "/status"):
        return Response(message, status_code=status)
    return dashboard_of(request).render(
        request, "error.html", status_code=status, message=message
    )


def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("fmt_plugin.web", "templates"),
        autoescape=select_autoescape(("html",)),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        day=french.day,
        long_day=french.long_day,
        month=french.month,
        number=french.number,
        percent=french.percent,
        euros=french.euros,
        local_time=french.local_time,
        nir=french.nir,
    )
    return environment
