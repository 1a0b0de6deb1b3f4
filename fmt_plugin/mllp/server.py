"""Asyncio MLLP listener: connections, timeouts, TLS and graceful shutdown; no HL7 semantics.

The server turns each connection's bytes into frames (`framing.MllpFramer`), hands every frame
to a `FrameHandler` and writes back, framed, the ACK payloads the handler returns. What a
payload means, and what the ACK says, is the handler's business.

Per connection, frames are handled strictly one after the other, in the order received, and
each gets its ACK before the next is handed over (MLLP original mode), even when a sender
pipelines several frames in one write. Connections are served concurrently.

Limits, so that no sender (nor a crowd of them) can take the listener down: at most
`max_connections` connections (those beyond are closed at once), a frame must be complete
within `frame_timeout_s` of its first byte whatever trickles in, and the partial frames of
all connections together hold at most `max_buffered_bytes`. Refusals at accept and accept
errors (EMFILE...) are logged at most once per `LOG_THROTTLE_S`, with the count of those
not logged.

Logs carry peer addresses, sizes, counts and exception types, never payload bytes.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import math
import resource
import ssl
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

from fmt_plugin.errors import ConfigError
from fmt_plugin.mllp.framing import (
    END_BLOCK,
    Frame,
    FramingEvent,
    MllpFramer,
    Oversize,
    SkippedJunk,
    frame,
)
from fmt_plugin.mllp.tls import (
    check_allowed_subjects,
    peer_subject,
    server_ssl_context,
    subject_allowed,
)

log = logging.getLogger(__name__)

#: Bytes asked of the socket per read.
READ_SIZE = 65536
#: Longest wait for a client's TLS handshake (never longer than the idle timeout).
TLS_HANDSHAKE_TIMEOUT_S = 30.0
#: Longest wait for a connection to close cleanly (TLS close_notify) before it is aborted.
CLOSE_TIMEOUT_S = 5.0
#: Longest time spent reading and dropping the rest of an oversized frame after its AR.
OVERSIZE_LINGER_S = 30.0
#: Least interval between two log lines for one kind of refusal or accept error.
LOG_THROTTLE_S = 10.0
#: Descriptors the process needs besides MLLP connections: store, job store, WAL and shm
#: files, logs, the status endpoint and its clients, the MSSanté connection.
FD_RESERVE = 64
#: Highest `max_connections` accepted: beyond, one practice's listener is being misused.
MAX_CONNECTIONS_LIMIT = 10000
#: What asyncio's accept loop reports when accept() fails for want of descriptors or memory.
ACCEPT_ERROR_MESSAGE = "socket.accept() out of system resource"


@dataclass(frozen=True)
class PeerInfo:
    """Who is on the other end of a connection.

    `tls_subject` is the RFC 4514 subject of the client's certificate under mutual TLS
    (an organisation's identity, not health data), else None.
    """

    host: str
    port: int
    tls_subject: str | None = None

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


class FrameHandler(Protocol):
    """What the listener calls for each frame; the HL7 layer implements it."""

    async def handle_frame(self, payload: bytes, peer: PeerInfo) -> Sequence[bytes]:
        """Process one frame's payload and return the ACK payloads (unframed), in order.

        Called once per frame, in order, never concurrently for one connection. The server
        writes each returned payload framed, in the order given (HL7 enhanced mode: the
        accept ACK, then the application ACK), then hands over the next frame. An empty
        sequence means the sender asked for no acknowledgement: nothing is written and the
        connection goes on. Raising means "not taken": the connection is closed without an
        ACK, so that the sender resends the message (a false ACK would lose it).
        """
        ...

    def reject_oversize(self, head: bytes, peer: PeerInfo) -> bytes:
        """Return the reject (AR) ACK payload for a frame over the size limit.

        `head` holds the frame's first payload bytes (at most 4096). The server writes the
        ACK, then closes the connection.
        """
        ...


@dataclass(frozen=True)
class MllpSettings:
    """The listener's settings (the `[mllp]` table of the configuration).

    TLS is on when `tls_cert` is set (`tls_key` is then required); mutual TLS when
    `tls_client_ca` is set too; `tls_client_subjects` then restricts which verified clients
    are served (empty: any client with a certificate from those CAs).
    """

    host: str = "127.0.0.1"
    port: int = 2575
    max_message_bytes: int = 16 * 1024 * 1024
    idle_timeout_s: float = 300.0
    max_connections: int = 256
    # A 16 MiB report needs about 1.1 Mbit/s to arrive in time.
    frame_timeout_s: float = 120.0
    max_buffered_bytes: int = 64 * 1024 * 1024
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    tls_client_subjects: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(
                "port hors limites", key="mllp.port", expected="0 à 65535"
            )
        if self.max_message_bytes < 1:
            raise ConfigError(
                "taille maximale invalide",
                key="mllp.max_message_bytes",
                expected="un nombre d'octets positif",
            )
        if not self.idle_timeout_s > 0:
            raise ConfigError(
                "délai d'inactivité invalide",
                key="mllp.idle_timeout_s",
                expected="un nombre de secondes positif",
            )
        if not 1 <= self.max_connections <= MAX_CONNECTIONS_LIMIT:
            raise ConfigError(
                "nombre de connexions invalide",
                key="mllp.max_connections",
                expected=f"un entier de 1 à {MAX_CONNECTIONS_LIMIT}",
            )
        if not self.frame_timeout_s > 0:
            raise ConfigError(
                "délai de réception d'un message invalide",
                key="mllp.frame_timeout_s",
                expected="un nombre de secondes positif",
            )
        if self.max_buffered_bytes < self.max_message_bytes:
            # Else a message of the largest allowed size could never be received.
            raise ConfigError(
                "mémoire de réception inférieure à la taille maximale d'un message",
                key="mllp.max_buffered_bytes",
                expected=f"au moins mllp.max_message_bytes ({self.max_message_bytes})",
            )


@dataclass(eq=False)
class _Connection:
    """The server's view of one open connection."""

    peer: PeerInfo
    # A frame is being handled or its ACK written: stop() lets it finish.
    busy: bool = False
    frames: int = 0
    received: int = 0
    # Bytes counted against max_buffered_bytes: the partial frame, and the frames of the
    # last read that are being handled.
    partial: int = 0
    handling: int = 0


class LogThrottle:
    """At most one log line per `interval_s` for one recurring event, and how many were not.

    `due(now)` says whether a line may be written now: None while throttled (the event is
    counted), else the number of events since the last line that were not logged.
    """

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._next = -math.inf
        self.suppressed = 0

    def due(self, now: float) -> int | None:
        if now < self._next:
            self.suppressed += 1
            return None
        suppressed, self.suppressed = self.suppressed, 0
        self._next = now + self.interval_s
        return suppressed


#: The reasons counted in `MllpServer.refused`.
REFUSALS = (
    "too_many_connections",  # over mllp.max_connections: closed unread
    "frame_timeout",  # a frame not complete within mllp.frame_timeout_s
    "over_buffer_budget",  # a partial frame over mllp.max_buffered_bytes
    "oversize",  # a frame over mllp.max_message_bytes: answered AR
    "tls_handshake",  # the TLS handshake failed
    "tls_client",  # a client certificate not in mllp.tls_client_subjects
)


class MllpServer:
    """An MLLP listener on `settings.host:settings.port`, over TLS when configured.

    Use `async with MllpServer(handler, settings) as server:` or `start()` / `stop()`.
    After `start()`, `port` is the bound port (useful with port 0).
    """

    def __init__(self, handler: FrameHandler, settings: MllpSettings) -> None:
        """Check the settings and build the TLS context; raises `ConfigError`."""
        self._handler = handler
        self._settings = settings
        self._ssl = mllp_ssl_context(settings)
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[None], _Connection] = {}
        self._stopping = False
        self._stopped = asyncio.Event()
        self._buffered = 0
        self._buffered_peak = 0
        #: What the listener refused since it was made, by reason (see `REFUSALS`): the
        #: status endpoint shows it, so an operator sees a flood the log only samples.
        self.refused: Counter[str] = Counter()
        self._refusals = LogThrottle(LOG_THROTTLE_S)
        self._accept_errors = LogThrottle(LOG_THROTTLE_S)
        self._exception_handler: _ExceptionHandler | None = None
        self._previous_exception_handler: _ExceptionHandler | None = None
        self.host = settings.host
        self.port = settings.port

    @property
    def connections(self) -> int:
        """Open connections (including those still in their TLS handshake)."""
        return len(self._connections)

    @property
    def buffered_bytes(self) -> int:
        """Bytes held now for all connections: partial frames and frames being handled."""
        return self._buffered

    @property
    def buffered_bytes_peak(self) -> int:
        """The most `buffered_bytes` has been since `start()`."""
        return self._buffered_peak

    @property
    def serving(self) -> bool:
        """Whether the listener accepts connections."""
        return self._server is not None and not self._stopping

    async def start(self) -> None:
        """Bind and start accepting; raises `ConfigError` if the address cannot be bound."""
        if self._server is not None:
            raise RuntimeError("MllpServer already started")
        self._stopping = False
        self._stopped = asyncio.Event()
        self._buffered_peak = self._buffered
        _check_fd_limit(self._settings.max_connections)
        try:
            self._server = await asyncio.start_server(
                self._on_connection, self._settings.host, self._settings.port
            )
        except OSError as exc:
            raise ConfigError(
                f"impossible d'écouter sur {self._settings.host}:{self._settings.port}"
                f" ({exc.strerror or type(exc).__name__})",
                key="mllp.port",
                expected="un port libre, ou l'option --mllp-port (0 : un port libre)",
            ) from exc
        # With a host that resolves to several addresses and port 0, each socket gets its own
        # port; `port` is the first one's.
        self.port = self._server.sockets[0].getsockname()[1]
        self._filter_accept_errors()
        mode = "plain TCP"
        if self._ssl is not None:
            mode = "mutual TLS" if self._settings.tls_client_ca else "TLS"
        log.info("MLLP listener on %s:%d (%s)", self.host, self.port, mode)

    async def serve_until(self, stop: asyncio.Event, grace_s: float = 10.0) -> None:
        """Start if needed, serve until `stop` is set (or this task is cancelled), then stop."""
        if self._server is None:
            await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop(grace_s)

    async def stop(self, grace_s: float = 10.0) -> None:
        """Stop gracefully; return once every connection is closed.

        At once: the listening sockets close (new connections are refused) and every
        connection that is waiting for bytes or in its TLS handshake is closed; frames it had
        received but not yet handed over are dropped unacknowledged (the sender resends them).
        A connection whose frame is being handled finishes that frame, writes its ACK, then
        closes without handling further frames. Connections still open after `grace_s`
        seconds are cancelled (their frame gets no ACK). A second call waits for the first
        one to finish; a call before `start` does nothing.
        """
        server = self._server
        if server is None:
            return
        if self._stopping:
            await self._stopped.wait()
            return
        self._stopping = True
        try:
            await self._shut_down(server, grace_s)
        finally:
            self._server = None
            self._unfilter_accept_errors()
            self._stopped.set()
        self._log_suppressed()
        log.info("MLLP listener stopped")

    async def _shut_down(self, server: asyncio.Server, grace_s: float) -> None:
        server.close()
        busy = 0
        for task, connection in list(self._connections.items()):
            if connection.busy:
                busy += 1
            else:
                task.cancel()
        log.info(
            "MLLP listener stopping: %d idle connection(s) closed, %d finishing a frame",
            len(self._connections) - busy,
            busy,
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace_s
        while self._connections:
            tasks = set(self._connections)
            remaining = deadline - loop.time()
            if remaining > 0:
                await asyncio.wait(tasks, timeout=remaining)
                continue
            log.warning(
                "MLLP grace period over: cancelling %d connection(s) still busy",
                len(tasks),
            )
            for task in tasks:
                task.cancel()
            _done, pending = await asyncio.wait(tasks, timeout=CLOSE_TIMEOUT_S)
            if pending:
                log.error(
                    "%d MLLP connection task(s) ignored cancellation", len(pending)
                )
            break
        await server.wait_closed()

    def _filter_accept_errors(self) -> None:
        """Route asyncio's accept errors to one throttled line instead of a traceback each.

        When accept() fails with EMFILE (or ENFILE, ENOBUFS, ENOMEM), asyncio's accept loop
        reports it through the loop's exception handler on every try (up to 100 per
        wake-up, each scheduling a retry one second later), and the default handler logs a
        traceback each time: 93,000 tracebacks (39 MB) in 30 s, measured with 150 waiting
        connections and 64 descriptors. asyncio's pause and retry are kept; only the report
        is throttled. Other reports go to the handler that was in place. Such errors
        concern the whole process (the status endpoint's listener on this loop reports the
        same), so those of any listening socket are filtered.
        """
        loop = asyncio.get_running_loop()
        previous = loop.get_exception_handler()

        def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
            if context.get("message") == ACCEPT_ERROR_MESSAGE:
                self._log_accept_error(loop, context)
            elif previous is not None:
                previous(loop, context)
            else:
                loop.default_exception_handler(context)

        loop.set_exception_handler(handler)
        self._exception_handler = handler
        self._previous_exception_handler = previous

    def _unfilter_accept_errors(self) -> None:
        loop = asyncio.get_running_loop()
        # Only if nobody installed a handler over ours since: theirs stays, and ours
        # keeps passing other reports on.
        if self._exception_handler is not None:
            if loop.get_exception_handler() is self._exception_handler:
                loop.set_exception_handler(self._previous_exception_handler)
            self._exception_handler = None

    def _log_accept_error(
        self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]
    ) -> None:
        suppressed = self._accept_errors.due(loop.time())
        if suppressed is None:
            return
        exc = context.get("exception")
        reason = type(exc).__name__
        if isinstance(exc, OSError) and exc.errno is not None:
            reason = errno.errorcode.get(exc.errno, reason)
        sock = context.get("socket")
        where = _sockname(sock) if sock is not None else "?"
        log.warning(
            "accept() failed on %s: %s; new connections wait in the queue and accepting "
            "resumes within seconds%s",
            where,
            reason,
            _not_logged(suppressed),
        )

    def _log_suppressed(self) -> None:
        """At stop: the refusals and accept errors counted since their last line."""
        if self._refusals.suppressed:
            log.warning(
                "MLLP listener: %d more connection(s) refused over mllp.max_connections",
                self._refusals.suppressed,
            )
        if self._accept_errors.suppressed:
            log.warning(
                "MLLP listener: %d more accept() error(s)",
                self._accept_errors.suppressed,
            )
        self._refusals = LogThrottle(LOG_THROTTLE_S)
        self._accept_errors = LogThrottle(LOG_THROTTLE_S)

    def _stop_requested(self) -> bool:
        # A call, not the attribute, so that type checkers do not assume it stays False
        # across the awaits of a connection loop.
        return self._stopping

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Accept callback: run the connection in a task this server owns and tracks.

        A plain function rather than a coroutine, so that the task is ours: stop() can
        cancel it and wait for it, and Python 3.11's start_server, which calls
        `task.exception()` on the tasks it creates, never sees a cancelled one.
        A connection over `max_connections` is closed at once, before any byte is read.
        """
        if len(self._connections) >= self._settings.max_connections:
            self._refuse(writer)
            return
        connection = _Connection(_peer(writer))
        task = asyncio.get_running_loop().create_task(
            self._run_connection(connection, reader, writer)
        )
        # Registered before the task first runs, so stop() always sees this connection;
        # the dict also keeps the task referenced until it is done.
        self._connections[task] = connection
        task.add_done_callback(self._connection_done)

    def _refuse(self, writer: asyncio.StreamWriter) -> None:
        # No task and no await: a flood of connections costs a descriptor for one loop
        # iteration each, and a line per LOG_THROTTLE_S.
        writer.transport.abort()
        self.refused["too_many_connections"] += 1
        suppressed = self._refusals.due(asyncio.get_running_loop().time())
        if suppressed is not None:
            log.warning(
                "MLLP connection from %s refused: %d connection(s) open, the most "
                "mllp.max_connections allows%s",
                _peer(writer),
                len(self._connections),
                _not_logged(suppressed),
            )

    def _connection_done(self, task: asyncio.Task[None]) -> None:
        connection = self._connections.pop(task, None)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:  # _run_connection catches everything; this is a safety net
            log.error(
                "MLLP connection from %s failed: %s%s",
                connection.peer if connection else "?",
                type(exc).__name__,
                _where(exc),
            )

    async def _run_connection(
        self,
        connection: _Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        """Serve one connection until EOF, error, idle timeout, refusal or stop()."""
        try:
            if self._stopping:
                return
            if self._ssl is not None and not await self._secure(
                connection, writer, self._ssl
            ):
                return
            log.info("MLLP connection from %s", _describe(connection.peer))
            await self._serve(connection, reader, writer)
        except asyncio.CancelledError:
            log.info("MLLP connection from %s closed by shutdown", connection.peer)
            raise
        except Exception as exc:  # noqa: BLE001 - a bug, logged below
            # A bug here must cost one connection, not the listener. Logged without the
            # exception's text, which could quote payload bytes.
            log.error(
                "MLLP connection from %s failed: %s%s",
                connection.peer,
                type(exc).__name__,
                _where(exc),
            )
        finally:
            await _close(writer)
            log.info(
                "MLLP connection from %s closed: %d frame(s), %d byte(s) received",
                connection.peer,
                connection.frames,
                connection.received,
            )

    async def _secure(
        self,
        connection: _Connection,
        writer: asyncio.StreamWriter,
        context: ssl.SSLContext,
    ) -> bool:
        """TLS handshake and client check; False (logged) if the client is refused."""
        timeout = min(TLS_HANDSHAKE_TIMEOUT_S, self._settings.idle_timeout_s)
        try:
            await writer.start_tls(context, ssl_handshake_timeout=timeout)
        except (OSError, TimeoutError) as exc:  # ssl.SSLError is an OSError
            self.refused["tls_handshake"] += 1
            log.warning(
                "TLS handshake with %s failed: %s", connection.peer, _tls_reason(exc)
            )
            return False
        subject = peer_subject(writer.get_extra_info("ssl_object"))
        if not subject_allowed(subject, self._settings.tls_client_subjects):
            self.refused["tls_client"] += 1
            log.warning(
                "TLS client %s refused: certificate subject %r is not in "
                "mllp.tls_client_subjects",
                connection.peer.host,
                subject,
            )
            return False
        connection.peer = replace(connection.peer, tls_subject=subject)
        return True

    async def _serve(
        self,
        connection: _Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        """Read, frame and answer until the connection must close.

        The frame deadline runs from the first read of a frame (or of junk) until a frame
        completes; the idle timeout applies to every read. On return, the bytes this
        connection held are no longer counted against `max_buffered_bytes`.
        """
        framer = MllpFramer(self._settings.max_message_bytes)
        deadline: float | None = None  # loop time by which the frame must be complete
        try:
            while not self._stop_requested():
                data = await self._read(connection, reader, deadline)
                if data is None:
                    return
                if not data:
                    for junk in framer.close():
                        _log_junk(connection.peer, junk, at_eof=True)
                    return
                connection.received += len(data)
                events = framer.feed(data)
                handling = sum(len(e.payload) for e in events if isinstance(e, Frame))
                if not self._hold(connection, framer.pending, handling):
                    self._log_over_budget(connection)
                    return
                if not await self._handle(connection, reader, writer, framer, events):
                    return
                deadline = self._frame_deadline(framer, events, deadline)
        finally:
            self._hold(connection, 0, 0)

    async def _read(
        self,
        connection: _Connection,
        reader: asyncio.StreamReader,
        deadline: float | None,
    ) -> bytes | None:
        """The next bytes (b"" at EOF); None, logged, on a timeout or a lost connection."""
        loop = asyncio.get_running_loop()
        idle_at = loop.time() + self._settings.idle_timeout_s
        try:
            async with asyncio.timeout_at(
                idle_at if deadline is None else min(idle_at, deadline)
            ):
                return await reader.read(READ_SIZE)
        except TimeoutError:
            if deadline is not None and deadline <= idle_at:
                self.refused["frame_timeout"] += 1
                log.warning(
                    "MLLP connection from %s: frame not complete within %gs "
                    "(mllp.frame_timeout_s): closing without ACK",
                    connection.peer,
                    self._settings.frame_timeout_s,
                )
            else:
                log.info(
                    "MLLP connection from %s idle for %gs: closing",
                    connection.peer,
                    self._settings.idle_timeout_s,
                )
        except OSError as exc:  # reset by peer, TLS error: the peer's problem
            log.info(
                "MLLP connection from %s lost: %s", connection.peer, _tls_reason(exc)
            )
        return None

    async def _handle(
        self,
        connection: _Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        framer: MllpFramer,
        events: list[FramingEvent],
    ) -> bool:
        """Act on one read's framing events, in order; False if the connection must close."""
        for event in events:
            if self._stop_requested():
                return False
            if isinstance(event, SkippedJunk):
                _log_junk(connection.peer, event, at_eof=False)
            elif isinstance(event, Oversize):
                if await self._reject_oversize(connection, writer, event):
                    await self._skip_frame_rest(connection, reader, framer.leftover)
                return False
            else:
                answered = await self._answer(connection, writer, event)
                handling = connection.handling - len(event.payload)
                self._hold(connection, connection.partial, handling)
                if not answered:
                    return False
        return True

    def _frame_deadline(
        self, framer: MllpFramer, events: list[FramingEvent], deadline: float | None
    ) -> float | None:
        """The deadline for the frame in progress after a read, None between frames.

        Only a complete frame restarts it: a sender that restarts its frame (a second start
        block) or sends junk does not get more time.
        """
        if not framer.in_progress:
            return None
        if deadline is None or any(isinstance(e, Frame) for e in events):
            loop = asyncio.get_running_loop()
            return loop.time() + self._settings.frame_timeout_s
        return deadline

    def _hold(self, connection: _Connection, partial: int, handling: int) -> bool:
        """Count what a connection holds; False, counting nothing, if it is over budget.

        Over budget means: its partial frame grew, and the bytes held by all connections
        would exceed `max_buffered_bytes`. A frame that arrived whole in one read never is
        (it was never partial), so a small message is served even when the budget is
        spent; the total can exceed the budget by such frames only, each at most a read.
        """
        total = self._buffered - connection.partial - connection.handling
        total += partial + handling
        if partial > connection.partial and total > self._settings.max_buffered_bytes:
            return False
        connection.partial = partial
        connection.handling = handling
        self._buffered = total
        self._buffered_peak = max(self._buffered_peak, total)
        return True

    def _log_over_budget(self, connection: _Connection) -> None:
        self.refused["over_buffer_budget"] += 1
        # No ACK: the refusal is temporary (others hold the memory), and an AR would tell
        # many senders not to send this message again. Without an ACK they resend it.
        log.warning(
            "MLLP connection from %s closed without ACK: its frame (%d bytes so far) "
            "would take the bytes held by all connections over "
            "mllp.max_buffered_bytes (%d)",
            connection.peer,
            connection.partial,
            self._settings.max_buffered_bytes,
        )

    async def _answer(
        self, connection: _Connection, writer: asyncio.StreamWriter, event: Frame
    ) -> bool:
        """Hand a frame over and write its ACK; False if the connection must close."""
        connection.busy = True
        try:
            connection.frames += 1
            log.debug(
                "MLLP frame of %d bytes from %s", len(event.payload), connection.peer
            )
            try:
                acks = await self._handler.handle_frame(event.payload, connection.peer)
            except Exception as exc:  # noqa: BLE001 - a handler bug, logged below
                # Closing without an ACK makes the sender resend; a false ACK would lose
                # the message. Logged without its text, which could quote payload bytes.
                log.error(
                    "MLLP frame handler failed on a %d-byte frame from %s: %s%s; "
                    "closing the connection without ACK",
                    len(event.payload),
                    connection.peer,
                    type(exc).__name__,
                    _where(exc),
                )
                return False
            for ack in acks:
                if not await self._write(connection, writer, ack):
                    return False
            return True
        finally:
            connection.busy = False

    async def _reject_oversize(
        self, connection: _Connection, writer: asyncio.StreamWriter, event: Oversize
    ) -> bool:
        """Write the handler's reject ACK; False if it could not be written."""
        connection.busy = True
        try:
            self.refused["oversize"] += 1
            log.warning(
                "MLLP frame from %s exceeds %d bytes: rejected, closing the connection",
                connection.peer,
                event.limit,
            )
            try:
                ack = self._handler.reject_oversize(event.head, connection.peer)
            except Exception as exc:  # noqa: BLE001 - a handler bug, logged below
                # As in _answer: no ACK rather than a wrong one, no exception text.
                log.error(
                    "MLLP oversize handler failed for %s: %s%s",
                    connection.peer,
                    type(exc).__name__,
                    _where(exc),
                )
                return False
            return await self._write(connection, writer, ack)
        finally:
            connection.busy = False

    async def _skip_frame_rest(
        self, connection: _Connection, reader: asyncio.StreamReader, leftover: bytes
    ) -> None:
        """Read and drop the rest of an oversized frame, for at most OVERSIZE_LINGER_S.

        Closing a socket whose receive queue still holds bytes makes the kernel send a
        reset, and a reset makes the sender's kernel discard the reject ACK it has not read
        yet: the sender, still busy writing its large message, would never see the AR and
        would send the message again. So the rest of the frame, up to its end block, is
        consumed (not buffered) before the connection is closed.
        """
        if END_BLOCK in leftover:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(OVERSIZE_LINGER_S, self._settings.idle_timeout_s)
        tail = leftover[-1:]  # an end block may straddle two reads
        try:
            async with asyncio.timeout_at(deadline):
                while data := await reader.read(READ_SIZE):
                    connection.received += len(data)
                    if END_BLOCK in tail + data[:1] or END_BLOCK in data:
                        return
                    tail = data[-1:]
        except (OSError, TimeoutError):
            return

    async def _write(
        self, connection: _Connection, writer: asyncio.StreamWriter, ack: bytes
    ) -> bool:
        """Write a framed ACK; False (logged) if the peer is gone or does not read."""
        writer.write(frame(ack))
        if (
            not writer.transport.is_closing()
            and not writer.transport.get_write_buffer_size()
        ):
            # All handed to the kernel: nothing to drain, no timeout to arm (per ACK).
            return True
        try:
            # A peer that stops reading its ACKs counts as idle.
            async with asyncio.timeout(self._settings.idle_timeout_s):
                await writer.drain()
        except TimeoutError:
            log.info("MLLP peer %s does not read its ACKs: closing", connection.peer)
            return False
        except OSError as exc:
            log.info(
                "MLLP connection from %s lost while writing an ACK: %s",
                connection.peer,
                _tls_reason(exc),
            )
            return False
        return True


def mllp_ssl_context(settings: MllpSettings) -> ssl.SSLContext | None:
    """The TLS context the settings ask for, after checking they are consistent."""
    if settings.tls_cert is None:
        for key, value in (
            ("mllp.tls_key", settings.tls_key),
            ("mllp.tls_client_ca", settings.tls_client_ca),
            ("mllp.tls_client_subjects", settings.tls_client_subjects),
        ):
            if value:
                raise ConfigError("sans effet sans « mllp.tls_cert »", key=key)
        return None
    if settings.tls_key is None:
        raise ConfigError(
            "réglage obligatoire avec « mllp.tls_cert »", key="mllp.tls_key"
        )
    if settings.tls_client_subjects and settings.tls_client_ca is None:
        raise ConfigError(
            "une liste de sujets autorisés demande « mllp.tls_client_ca » (TLS mutuel)",
            key="mllp.tls_client_subjects",
        )
    check_allowed_subjects(settings.tls_client_subjects)
    return server_ssl_context(
        settings.tls_cert, settings.tls_key, settings.tls_client_ca
    )


_ExceptionHandler = Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object]


def _check_fd_limit(max_connections: int) -> None:
    """Warn when the descriptor limit is too low for `max_connections`.

    Over it, accept() fails with EMFILE before the connection limit is reached, and so does
    everything else that opens a file (the store, the status endpoint).
    """
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < max_connections + FD_RESERVE:
        log.warning(
            "file descriptor limit %d is below mllp.max_connections (%d) + %d: raise "
            "LimitNOFILE (systemd) or ulimit -n, or lower mllp.max_connections",
            soft,
            max_connections,
            FD_RESERVE,
        )


def _not_logged(count: int) -> str:
    return f" ({count} more since the last such line)" if count else ""


def _sockname(sock: Any) -> str:
    try:
        name = sock.getsockname()
    except (AttributeError, OSError):
        return "?"
    if isinstance(name, tuple) and len(name) >= 2:
        return str(PeerInfo(str(name[0]), int(name[1])))
    return str(name)


def _peer(writer: asyncio.StreamWriter) -> PeerInfo:
    peername = writer.get_extra_info("peername")
    if isinstance(peername, tuple) and len(peername) >= 2:
        return PeerInfo(str(peername[0]), int(peername[1]))
    return PeerInfo(str(peername or "unknown"), 0)


def _describe(peer: PeerInfo) -> str:
    if peer.tls_subject is None:
        return str(peer)
    return f"{peer} (certificate {peer.tls_subject})"


def _log_junk(peer: PeerInfo, junk: SkippedJunk, *, at_eof: bool) -> None:
    if junk.whitespace_only:
        log.debug(
            "skipped %d whitespace byte(s) between frames from %s", junk.size, peer
        )
    elif at_eof:
        log.warning(
            "MLLP connection from %s ended inside a frame: %d byte(s) dropped",
            peer,
            junk.size,
        )
    else:
        log.warning("skipped %d byte(s) outside an MLLP frame from %s", junk.size, peer)


def _tls_reason(exc: BaseException) -> str:
    """A short, data-free reason: the OpenSSL reason code or the exception type."""
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return f"{type(exc).__name__} ({exc.reason})"
    return type(exc).__name__


def _where(exc: BaseException) -> str:
    """` at file:line in function` for the innermost frame: where the bug is, no message."""
    stack = traceback.extract_tb(exc.__traceback__)
    if not stack:
        return ""
    return f" at {stack[-1].filename}:{stack[-1].lineno} in {stack[-1].name}"


async def _close(writer: asyncio.StreamWriter) -> None:
    """Close the connection, waiting a little for a clean (TLS) close, else abort it."""
    writer.close()
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT_S):
            await writer.wait_closed()
    except (OSError, TimeoutError):
        writer.transport.abort()
    except asyncio.CancelledError:
        writer.transport.abort()
        raise
