"""The status endpoint's HTTP server, over real sockets: routes, methods, malformed requests."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import pytest

from fmt_plugin.errors import ConfigError
from fmt_plugin.web.server import MAX_HEADER_BYTES, StatusHttpServer


async def _ok() -> tuple[int, Mapping[str, Any]]:
    return 200, {"etat": "ok", "accent": "déjà"}


async def _broken() -> tuple[int, Mapping[str, Any]]:
    raise ValueError("Dupont Marie 1 76 03 75 112 123 45")


@asynccontextmanager
async def serving() -> AsyncIterator[StatusHttpServer]:
    running = StatusHttpServer({"/ok": _ok, "/broken": _broken}, "127.0.0.1", 0)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


def with_server(scenario: Callable[[StatusHttpServer], Awaitable[None]]) -> None:
    """Run `scenario` against a started server (no asyncio plugin: one event loop per test)."""

    async def main() -> None:
        async with serving() as server:
            await scenario(server)

    asyncio.run(main())


async def exchange(server: StatusHttpServer, request: bytes) -> tuple[str, bytes]:
    """Send raw bytes, read until the server closes; the status line and the body."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(request)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    return head.decode("ascii").split("\r\n")[0], body


async def get(server: StatusHttpServer, path: str, method: str = "GET"):
    return await exchange(
        server, f"{method} {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()
    )


def test_a_route_answers_json_in_utf8():
    """A known path answers 200 with the route's body as UTF-8 JSON."""

    async def scenario(server: StatusHttpServer) -> None:
        status, body = await get(server, "/ok")
        assert status == "HTTP/1.1 200 OK"
        assert json.loads(body.decode("utf-8")) == {"etat": "ok", "accent": "déjà"}

    with_server(scenario)


def test_the_query_string_is_ignored():
    """`/ok?x=1` is the `/ok` route."""

    async def scenario(server: StatusHttpServer) -> None:
        status, _ = await get(server, "/ok?x=1")
        assert status == "HTTP/1.1 200 OK"

    with_server(scenario)


def test_head_gives_the_headers_without_a_body():
    """HEAD answers like GET, with no body."""

    async def scenario(server: StatusHttpServer) -> None:
        status, body = await get(server, "/ok", method="HEAD")
        assert status == "HTTP/1.1 200 OK"
        assert body == b""

    with_server(scenario)


def test_an_unknown_path_is_404_listing_the_known_ones():
    """An unknown path is a 404 whose body names the known paths."""

    async def scenario(server: StatusHttpServer) -> None:
        status, body = await get(server, "/admin")
        assert status == "HTTP/1.1 404 Not Found"
        assert "/ok" in json.loads(body)["erreur"]

    with_server(scenario)


def test_a_post_is_405_with_an_allow_header():
    """Only GET and HEAD are served; the answer says which are allowed."""

    async def scenario(server: StatusHttpServer) -> None:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(b"POST /ok HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 405 Method Not Allowed")
        assert b"Allow: GET, HEAD" in answer

    with_server(scenario)


def test_a_malformed_request_line_is_400():
    """Something that is not an HTTP request line gets a 400."""

    async def scenario(server: StatusHttpServer) -> None:
        status, _ = await exchange(server, b"MSH|^~\\&|LAB\r\n\r\n")
        assert status == "HTTP/1.1 400 Bad Request"

    with_server(scenario)


def test_an_over_long_header_is_431():
    """A header over the limit is refused without being read whole."""

    async def scenario(server: StatusHttpServer) -> None:
        padding = b"X-Pad: " + b"a" * (MAX_HEADER_BYTES * 2) + b"\r\n"
        status, _ = await exchange(server, b"GET /ok HTTP/1.1\r\n" + padding + b"\r\n")
        assert status == "HTTP/1.1 431 Request Header Fields Too Large"

    with_server(scenario)


def test_a_failing_route_is_500_naming_only_the_exception_type():
    """A route that raises gives a 500 with the type only: its message may carry data."""

    async def scenario(server: StatusHttpServer) -> None:
        status, body = await get(server, "/broken")
        assert status == "HTTP/1.1 500 Internal Server Error"
        assert json.loads(body) == {"erreur": "erreur interne (ValueError)"}
        assert "Dupont" not in body.decode()

    with_server(scenario)


def test_a_client_that_says_nothing_is_dropped_without_an_answer():
    """A connection closed before a full request gets no answer and breaks nothing."""

    async def scenario(server: StatusHttpServer) -> None:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(b"GET /ok HT")
        writer.write_eof()
        assert await asyncio.wait_for(reader.read(), 10) == b""
        writer.close()
        status, _ = await get(server, "/ok")
        assert status == "HTTP/1.1 200 OK"

    with_server(scenario)


def test_a_port_in_use_is_a_config_error_naming_http_port():
    """Binding a taken port fails with the key to change."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        server = StatusHttpServer({"/ok": _ok}, "127.0.0.1", port)
        with pytest.raises(ConfigError) as error:
            asyncio.run(server.start())
    assert error.value.key == "http.port"
    assert str(port) in str(error.value)


def test_the_url_brackets_an_ipv6_host():
    """`::1` is written `[::1]` in the URL."""
    assert StatusHttpServer({}, "::1", 8575).url == "http://[::1]:8575"
