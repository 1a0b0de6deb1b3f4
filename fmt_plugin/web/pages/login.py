"""Log-in and log-out: the only pages open without a session.

The log-in form is protected against cross-site posting by a double-submit token (a cookie
and a hidden field that must match) since there is no session yet; every later form carries
the session's own token. Each log-in, refusal and log-out is audited with the account name,
never the password.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from fmt_plugin.accounts.login import LoginPolicy, LoginRefused, log_in
from fmt_plugin.installation import Installation
from fmt_plugin.storage.accounts import Account
from fmt_plugin.web.app import CSRF_FIELD, dashboard_of, page
from fmt_plugin.web.sessions import COOKIE_NAME, TOKEN_BYTES, Session

LOGIN_CSRF_COOKIE = "fmt_login"
#: Longest name or password read from the form (argon2 hashes anything, but why let it).
MAX_FIELD = 256


def routes() -> list[BaseRoute]:
    """`/connexion` (GET, POST) and `/deconnexion` (POST)."""
    return [
        Route("/connexion", login_form, methods=["GET"]),
        Route("/connexion", login_submit, methods=["POST"]),
        Route("/deconnexion", page(logout), methods=["POST"]),
    ]


async def login_form(request: Request) -> Response:
    """The log-in page; says so when the previous session expired."""
    notice = None
    if request.query_params.get("expiree"):
        minutes = dashboard_of(request).settings.session_idle_minutes
        notice = (
            f"Session fermée après {minutes} minutes sans activité : reconnectez-vous."
        )
    elif request.query_params.get("sortie"):
        notice = "Vous êtes déconnecté(e)."
    return _form(request, notice=notice)


async def login_submit(request: Request) -> Response:
    """Check the password; open a session, or show the page again with the refusal."""
    dashboard = dashboard_of(request)
    form = await request.form()
    expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    given = form.get(CSRF_FIELD)
    if not (
        expected and isinstance(given, str) and hmac.compare_digest(expected, given)
    ):
        return _form(
            request,
            error="Formulaire périmé : recommencez la connexion.",
            status_code=403,
        )
    name = str(form.get("identifiant", ""))[:MAX_FIELD].strip()
    password = str(form.get("mot_de_passe", ""))[:MAX_FIELD]
    now = dashboard.clock()
    try:
        account: Account = await dashboard.backend.run(
            _checked_login, name, password, now, dashboard.login_policy
        )
    except LoginRefused as refused:
        return _form(request, error=str(refused), name=name, status_code=401)
    token = dashboard.sessions.open(
        account.name, account.role, now=now, password_hash=account.password_hash
    )
    response = RedirectResponse(_next_page(form.get("suite")), status_code=303)
    response.set_cookie(
        COOKIE_NAME,
        token,
        httponly=True,
        samesite="strict",
        secure=dashboard.secure_cookies,
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/connexion")
    return response


async def logout(request: Request, session: Session) -> Response:
    """End the session, forget the cookie, back to the log-in page."""
    dashboard = dashboard_of(request)
    dashboard.sessions.close(request.cookies.get(COOKIE_NAME))
    await dashboard.backend.audit(session.account, action="web.logout")
    response = RedirectResponse("/connexion?sortie=1", status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/")
    return response


def _checked_login(
    installation: Installation,
    name: str,
    password: str,
    now: datetime,
    policy: LoginPolicy,
) -> Account:
    store = installation.store
    try:
        account = log_in(store.accounts, name, password, now=now, policy=policy)
    except LoginRefused as refused:
        store.record_admin_action(
            actor=name or "?", action="web.login_refused", detail=refused.reason
        )
        raise
    store.record_admin_action(actor=account.name, action="web.login")
    return account


def _form(
    request: Request,
    *,
    notice: str | None = None,
    error: str | None = None,
    name: str = "",
    status_code: int = 200,
) -> Response:
    token = secrets.token_urlsafe(TOKEN_BYTES)
    dashboard = dashboard_of(request)
    response = dashboard.render(
        request,
        "login.html",
        status_code=status_code,
        login_csrf=token,
        notice=notice,
        error=error,
        name=name,
        suite=request.query_params.get("suite", ""),
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=dashboard.secure_cookies,
        path="/connexion",
    )
    return response


def _next_page(value: object) -> str:
    """Where to go after logging in: a local path only (never another site)."""
    if isinstance(value, str) and value.startswith("/") and not value.startswith("//"):
        parts = urlsplit(value)
        if not parts.scheme and not parts.netloc:
            return value
    return "/"
