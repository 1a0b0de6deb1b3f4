"""The dashboard's HTTP server (uvicorn on the service's loop), over real sockets.

The server-level behaviours every route shares: JSON status routes, security headers, 404
and 405 pages, a failing route answered without its exception's text, a taken port as a
configuration error, IPv6 URLs. The routes here are small test routes on the real
application factory; the real `/health` and `/status` are tested on the running service.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fmt_plugin.config import HttpSettings
from fmt_plugin.errors import ConfigError
from fmt_plugin.web.app import Dashboard, create_app
from fmt_plugin.web.headers import CONTENT_SECURITY_POLICY
from fmt_plugin.web.practice import PracticeBackend
from fmt_plugin.web.serving import DashboardServer


async def _ok(request: Request) -> Response:
    return JSONResponse({"etat": "ok", "accent": "déjà"})


async def _broken(request: Request) -> Response:
    raise ValueError("Dupont Marie 1 76 03 75 112 123 45")


def _server(settings: HttpSettings) -> DashboardServer:
    dashboard = Dashboard(PracticeBackend(Path("unused.toml")), settings)
    routes = [
        Route("/ok", _ok, methods=["GET", "HEAD"]),
        Route("/broken", _broken, methods=["GET"]),
    ]
    return DashboardServer(create_app(dashboard, routes), settings)


@asynccontextmanager
async def serving(host: str = "127.0.0.1") -> AsyncIterator[DashboardServer]:
    server = _server(HttpSettings(host=host, port=0))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def with_server(scenario: Callable[[DashboardServer], Awaitable[None]]) -> None:
    """Run `scenario` against a started server (one event loop per test)."""

    async def main() -> None:
        async with serving() as server:
            await scenario(server)

    asyncio.run(main())


async def exchange(server: DashboardServer, request: bytes) -> tuple[list[str], bytes]:
    """Send raw bytes (one request, `Connection: close`); the head lines and the body."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(request)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    return head.decode("latin-1").split("\r\n"), body


async def get(server: DashboardServer, path: str, method: str = "GET"):
    return await exchange(
        server,
        f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode(),
    )


def header(head: list[str], name: str) -> str | None:
    for line in head[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name:
            return value.strip()
    return None


def test_a_route_answers_json_in_utf8():
    async def scenario(server: DashboardServer) -> None:
        head, body = await get(server, "/ok")
        assert head[0] == "HTTP/1.1 200 OK"
        assert body.decode("utf-8") == '{"etat":"ok","accent":"déjà"}'

    with_server(scenario)


def test_every_answer_carries_the_security_headers_and_no_store():
    """CSP without inline script, frame denial, no sniffing, no caching (even on a 404)."""

    async def scenario(server: DashboardServer) -> None:
        for path in ("/ok", "/nowhere"):
            head, _ = await get(server, path)
            assert header(head, "content-security-policy") == CONTENT_SECURITY_POLICY
            assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
            assert header(head, "x-frame-options") == "DENY"
            assert header(head, "x-content-type-options") == "nosniff"
            assert header(head, "cache-control") == "no-store"
            assert header(head, "server") is None

    with_server(scenario)


def test_the_vendored_static_files_may_be_cached():
    async def scenario(server: DashboardServer) -> None:
        head, body = await get(server, "/static/dashboard.css")
        assert head[0] == "HTTP/1.1 200 OK"
        assert header(head, "cache-control") == "private, max-age=3600"
        assert b"system-ui" in body

    with_server(scenario)


def test_head_gives_the_headers_without_a_body():
    async def scenario(server: DashboardServer) -> None:
        head, body = await get(server, "/ok", method="HEAD")
        assert head[0] == "HTTP/1.1 200 OK"
        assert body == b""

    with_server(scenario)


def test_an_unknown_path_is_a_french_404_page():
    async def scenario(server: DashboardServer) -> None:
        head, body = await get(server, "/nowhere")
        assert head[0] == "HTTP/1.1 404 Not Found"
        assert "Page introuvable." in body.decode("utf-8")

    with_server(scenario)


def test_a_post_to_a_get_route_is_405():
    async def scenario(server: DashboardServer) -> None:
        head, body = await get(server, "/ok", method="POST")
        assert head[0] == "HTTP/1.1 405 Method Not Allowed"
        assert "Méthode non permise" in body.decode("utf-8")

    with_server(scenario)


def test_a_failing_route_is_500_naming_only_the_exception_type(caplog):
    """The exception's text may hold patient data: neither the page nor the log repeats it."""

    async def scenario(server: DashboardServer) -> None:
        with caplog.at_level(logging.INFO):
            head, body = await get(server, "/broken")
        assert head[0] == "HTTP/1.1 500 Internal Server Error"
        assert "ValueError" in body.decode("utf-8")
        assert "Dupont" not in body.decode("utf-8")
        assert "Dupont" not in caplog.text
        assert "ValueError" in caplog.text

    with_server(scenario)


def test_the_access_log_never_holds_the_query_string(caplog):
    async def scenario(server: DashboardServer) -> None:
        with caplog.at_level(logging.INFO, logger="fmt_plugin.web.access"):
            await get(server, "/ok?nom=DUPONT")
        lines = [r.getMessage() for r in caplog.records if r.name.endswith("access")]
        assert lines
        assert lines[0].startswith("GET /ok 200")
        assert "DUPONT" not in caplog.text

    with_server(scenario)


def test_a_port_in_use_is_a_config_error_naming_http_port():
    async def scenario() -> None:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            server = _server(HttpSettings(port=port))
            with pytest.raises(ConfigError) as error:
                await server.start()
        assert error.value.key == "http.port"

    asyncio.run(scenario())


def test_the_url_brackets_an_ipv6_host():
    server = _server(HttpSettings(host="::1", port=8575))
    assert server.url == "http://[::1]:8575"


def test_the_dashboard_speaks_tls_when_a_certificate_is_configured(tmp_path):
    """`tls_cert`/`tls_key`: HTTPS only, verified against the certificate's CA."""
    import ssl

    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "d.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "d.key"))
    (tmp_path / "d.key").chmod(0o600)  # the mode configuration requires of a key
    settings = HttpSettings(
        port=0, tls_cert=tmp_path / "d.pem", tls_key=tmp_path / "d.key"
    )
    client = ssl.create_default_context()
    ca.configure_trust(client)

    async def scenario() -> None:
        server = _server(settings)
        await server.start()
        try:
            assert server.url.startswith("https://")
            reader, writer = await asyncio.open_connection(
                server.host, server.port, ssl=client, server_hostname="localhost"
            )
            writer.write(
                b"GET /ok HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
            )
            answer = await asyncio.wait_for(reader.read(), 10)
            writer.close()
            assert answer.startswith(b"HTTP/1.1 200 OK")
        finally:
            await server.stop()

    asyncio.run(scenario())


def test_an_unreadable_dashboard_certificate_is_a_config_error(tmp_path):
    (tmp_path / "d.pem").write_text("not a certificate")
    (tmp_path / "d.key").write_text("not a key")
    settings = HttpSettings(
        port=0, tls_cert=tmp_path / "d.pem", tls_key=tmp_path / "d.key"
    )

    async def scenario() -> None:
        with pytest.raises(ConfigError) as error:
            await _server(settings).start()
        assert error.value.key == "http.tls_cert"

    asyncio.run(scenario())
