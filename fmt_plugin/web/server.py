"""A minimal HTTP/1.1 server for the local status endpoint: GET/HEAD of a few JSON routes.

The service's only web surface is two read-only routes for supervision (`/health`, `/status`),
on the loopback interface by default. A full web framework would be a large dependency for
that, so this speaks just enough HTTP: one request per connection (`Connection: close`), no
request body, bounded header size and read time, JSON answers. Anything else gets the
matching 4xx status, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from fmt_plugin.errors import ConfigError

log = logging.getLogger(__name__)

#: A route answers with an HTTP status and a JSON-serialisable body.
Route = Callable[[], Awaitable[tuple[int, Mapping[str, Any]]]]

MAX_HEADER_BYTES = 8192
READ_TIMEOUT_S = 5.0
ALLOWED_METHODS = ("GET", "HEAD")


@dataclass(frozen=True)
class _Request:
    method: str
    path: str


class _BadRequest(Exception):
    def __init__(self, status: HTTPStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class StatusHttpServer:
    """Serves `routes` (path → coroutine) as JSON over HTTP on `host:port` (0: a free port)."""

    def __init__(self, routes: Mapping[str, Route], host: str, port: int) -> None:
        self._routes = dict(routes)
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        """The base URL, e.g. `http://127.0.0.1:8575` (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Bind and accept; raises `ConfigError` naming `http.port` if the address is taken."""
        try:
            # The reader's limit makes an over-long header fail fast, unread.
            self._server = await asyncio.start_server(
                self._on_connection, self.host, self.port, limit=MAX_HEADER_BYTES
            )
        except OSError as exc:
            raise ConfigError(
                f"impossible d'écouter sur {self.host}:{self.port}"
                f" ({exc.strerror or type(exc).__name__})",
                key="http.port",
                expected="un port libre, ou l'option --http-port (0 : un port libre)",
            ) from exc
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop accepting and close the listening socket (requests in progress are short)."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            request = await asyncio.wait_for(_read_request(reader), READ_TIMEOUT_S)
            status, body = await self._answer(request)
            await _respond(writer, status, body, head_only=request.method == "HEAD")
        except _BadRequest as bad:
            await _respond(writer, bad.status, {"erreur": bad.reason}, head_only=False)
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away or said nothing: nothing to answer
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _answer(self, request: _Request) -> tuple[int, Mapping[str, Any]]:
        route = self._routes.get(request.path)
        if route is None:
            known = ", ".join(sorted(self._routes))
            return HTTPStatus.NOT_FOUND, {
                "erreur": f"chemin inconnu (connus : {known})"
            }
        try:
            return await route()
        except Exception as exc:
            log.exception("status route %s failed", request.path)
            return HTTPStatus.INTERNAL_SERVER_ERROR, {
                "erreur": f"erreur interne ({type(exc).__name__})"
            }


async def _read_request(reader: asyncio.StreamReader) -> _Request:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError as exc:
        raise _BadRequest(
            HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "en-tête trop long"
        ) from exc
    if len(head) > MAX_HEADER_BYTES:
        raise _BadRequest(
            HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "en-tête trop long"
        )
    request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise _BadRequest(HTTPStatus.BAD_REQUEST, "ligne de requête HTTP invalide")
    method, target, _ = parts
    if method not in ALLOWED_METHODS:
        raise _BadRequest(
            HTTPStatus.METHOD_NOT_ALLOWED, f"méthode {method[:16]!r} non permise"
        )
    return _Request(method, target.split("?", 1)[0])


async def _respond(
    writer: asyncio.StreamWriter,
    status: int,
    body: Mapping[str, Any],
    *,
    head_only: bool,
) -> None:
    payload = (json.dumps(body, ensure_ascii=False, indent=2) + "\n").encode()
    phrase = HTTPStatus(status).phrase
    headers = [
        f"HTTP/1.1 {status} {phrase}",
        "Content-Type: application/json; charset=utf-8",
        f"Content-Length: {len(payload)}",
        "Cache-Control: no-store",
        "Connection: close",
    ]
    if status == HTTPStatus.METHOD_NOT_ALLOWED:
        headers.append("Allow: " + ", ".join(ALLOWED_METHODS))
    writer.write(("\r\n".join(headers) + "\r\n\r\n").encode("ascii"))
    if not head_only:
        writer.write(payload)
    await writer.drain()
