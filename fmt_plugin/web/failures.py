"""A page that fails answers 500 in French, and its exception's text goes nowhere.

An exception raised while building a page may quote what the page was about (a name, a
result), so neither the answer, nor the log, nor uvicorn's traceback may show it: this
middleware catches it before Starlette's and uvicorn's error handling would print it, logs
the exception's type and the path, and answers a short French page.
"""

from __future__ import annotations

import logging
from html import escape

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

PAGE = (
    '<!doctype html><html lang="fr"><head><meta charset="utf-8">'
    '<link rel="stylesheet" href="/static/dashboard.css"><title>Erreur interne</title>'
    '</head><body><main><h1>Erreur interne</h1><p class="error" role="alert">'
    "Erreur interne ({name}) : le journal du service en dit plus.</p>"
    '<p><a href="/">Retour au tableau de bord</a></p></main></body></html>'
)


class InternalErrorPage:
    """ASGI middleware: an exception in a page becomes a 500 naming only its type."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watching(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watching)
        except Exception as exc:  # noqa: BLE001 -- every failure gets the same answer
            name = type(exc).__name__
            log.error("page %s failed: %s", scope["path"], name)
            if started:
                return  # the answer is half sent: nothing better than closing it
            body = PAGE.format(name=escape(name)).encode("utf-8")
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"text/html; charset=utf-8"),
                        (b"content-length", str(len(body)).encode("ascii")),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
