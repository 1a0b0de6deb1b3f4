"""Serve the dashboard's ASGI application with uvicorn, on the service's own event loop.

`DashboardServer` binds the socket itself (so a taken port is our `ConfigError` naming
`http.port`, and port 0 resolves to the port actually bound), then runs uvicorn's server
on that socket in the running loop, beside the MLLP listener. Only uvicorn's start-up, main
loop and shutdown are used, not `serve()`: the service owns SIGTERM and SIGINT.
Uvicorn's access log is off: ours (`fmt_plugin.web.headers`) never writes a query string.
"""

from __future__ import annotations

import asyncio
import socket

import uvicorn
from starlette.types import ASGIApp

from fmt_plugin.config import HttpSettings
from fmt_plugin.errors import ConfigError

#: How long open keep-alive connections are given to finish when the service stops.
GRACEFUL_S = 2


class DashboardServer:
    """The dashboard (and `/health`, `/status`) over HTTP, or HTTPS when `[http]` has TLS."""

    def __init__(self, app: ASGIApp, settings: HttpSettings) -> None:
        self._app = app
        self._settings = settings
        self.host = settings.host
        self.port = settings.port
        self._server: uvicorn.Server | None = None
        self._socket: socket.socket | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """The base URL, e.g. `http://127.0.0.1:8575` (IPv6 hosts in brackets)."""
        scheme = "https" if self._settings.tls_cert else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    async def start(self) -> None:
        """Bind and serve; `ConfigError` naming `http.port` when the address is taken."""
        sock = self._bind()
        self.port = sock.getsockname()[1]
        settings = self._settings
        config = uvicorn.Config(
            self._app,
            lifespan="off",
            access_log=False,
            log_config=None,
            server_header=False,
            timeout_graceful_shutdown=GRACEFUL_S,
            ssl_certfile=str(settings.tls_cert) if settings.tls_cert else None,
            ssl_keyfile=str(settings.tls_key) if settings.tls_key else None,
        )
        try:
            config.load()  # reads the certificate and key now, not at the first request
        except (OSError, ValueError) as exc:
            sock.close()
            raise ConfigError(
                f"certificat ou clé TLS illisible ({type(exc).__name__})",
                key="http.tls_cert",
                expected="un certificat PEM et sa clé privée",
            ) from exc
        server = uvicorn.Server(config)
        server.lifespan = config.lifespan_class(config)
        await server.startup(sockets=[sock])
        self._server, self._socket = server, sock
        self._task = asyncio.create_task(server.main_loop(), name="fmt-dashboard-http")

    async def stop(self) -> None:
        """Stop accepting, let open requests finish (a short bound), close the socket."""
        server, sock, task = self._server, self._socket, self._task
        if server is None or sock is None or task is None:
            return
        server.should_exit = True
        await task
        await server.shutdown(sockets=[sock])
        sock.close()
        self._server = self._socket = self._task = None

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            # Accepted connections inherit it: a keep-alive answer is not held back ~40 ms
            # waiting for the browser's delayed ACK (Nagle), measured in bench/.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.bind((self.host, self.port))
            sock.listen(128)
        except OSError as exc:
            sock.close()
            raise ConfigError(
                f"impossible d'écouter sur {self.host}:{self.port}"
                f" ({exc.strerror or type(exc).__name__})",
                key="http.port",
                expected="un port libre, ou l'option --http-port (0 : un port libre)",
            ) from exc
        sock.set_inheritable(True)
        return sock
