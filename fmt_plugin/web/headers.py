"""The headers every dashboard answer carries, and the access log that names no patient.

A strict Content-Security-Policy (our own scripts and styles only, no inline script), frame
denial, no MIME sniffing, no referrer, and no caching except for the vendored static files:
a page showing patients must not stay in the browser's cache of a shared computer. The
access log records method, path, status and time, never the query string (the path itself
holds at most an internal patient id).
"""

from __future__ import annotations

import logging
import time

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("fmt_plugin.web.access")

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}
STATIC_PREFIX = "/static/"


class SecurityHeaders:
    """ASGI middleware: security headers on every answer, and one access-log line each."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path: str = scope["path"]
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers[name] = value
                if path.startswith(STATIC_PREFIX):
                    headers["cache-control"] = "private, max-age=3600"
                else:
                    headers["cache-control"] = "no-store"
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            access_log.info(
                "%s %s %d %.0f ms",
                scope["method"],
                path,
                status,
                (time.perf_counter() - started) * 1000,
            )
