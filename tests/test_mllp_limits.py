"""The MLLP listener's limits under load, over real sockets: connections, frame deadline,
bytes held across connections, accept errors when descriptors run out, `/health` meanwhile."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import subprocess
import sys
import textwrap
import threading
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import PUBLIC_SCENARIO, cli
from mllp_client import Client, connect, settings
from mllp_client import run as run_bounded
from service_process import Server, start_server

from fmt_plugin.config import load_config
from fmt_plugin.errors import ConfigError
from fmt_plugin.mllp import END_BLOCK, START_BLOCK, MllpServer, MllpSettings, frame
from fmt_plugin.mllp import server as mllp_server
from fmt_plugin.mllp.server import LogThrottle

#: Every test body runs under this bound, so a bug shows as a failure, not a hung suite.
TEST_TIMEOUT_S = 60.0
SECRET = b"DUPONT^JEAN"  # stands for health data: must never reach a log line
KIB = 1024


def message(n: int) -> bytes:
    return b"MSH|^~\\&|LAB||FMT||||ORU^R01|" + b"%06d" % n + b"|P|2.5\rPID|||" + SECRET


class Handler:
    """Answers `ACK ` + the payload's first 20 bytes."""

    def __init__(self) -> None:
        self.payloads: list[bytes] = []

    async def handle_frame(self, payload, peer):
        self.payloads.append(payload)
        return [b"ACK " + payload[:20]]

    def reject_oversize(self, head, peer):
        return b"AR " + head[:10]


async def until(condition: Callable[[], bool]) -> None:
    """Wait for a condition on the server's counters (checked every 10 ms)."""
    # No event tells that a counter changed: polled.
    while not condition():  # noqa: ASYNC110
        await asyncio.sleep(0.01)


@dataclass
class Address:
    host: str
    port: int


async def open_clients(server, count: int) -> list[Client]:
    pairs = [
        await asyncio.open_connection(server.host, server.port) for _ in range(count)
    ]
    return [Client(reader, writer) for reader, writer in pairs]


@pytest.fixture
def mllp_log(caplog, monkeypatch):
    """The listener's log records at DEBUG; refusal lines throttled to one per test."""
    monkeypatch.setattr(logging.getLogger("fmt_plugin"), "propagate", True)
    monkeypatch.setattr(mllp_server, "LOG_THROTTLE_S", 3600.0)
    caplog.set_level(logging.DEBUG, logger="fmt_plugin.mllp")
    return caplog


def lines(caplog, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]


# --- max_connections -------------------------------------------------------------------


def test_connections_over_max_connections_are_closed_at_once_with_one_log_line(
    mllp_log,
):
    """Beyond max_connections, each new connection is closed unread; one line for all."""

    async def scenario():
        handler = Handler()
        async with MllpServer(handler, settings(max_connections=3)) as server:
            held = await open_clients(server, 3)
            for n, client in enumerate(held):
                assert await client.call(message(n)) == b"ACK " + message(n)[:20]
            extra = await open_clients(server, 20)
            for client in extra:
                await client.write(frame(message(99)))
            assert all([await client.closed_without_reply() for client in extra])
            assert len(handler.payloads) == 3
            assert server.connections == 3
            assert server.refused["too_many_connections"] == 20  # each one counted
            for client in held + extra:
                client.close()

    run(scenario())
    (line,) = lines(mllp_log, "refused: 3 connection(s) open")
    assert "max_connections" in line
    (summary,) = lines(mllp_log, "more connection(s) refused")
    assert "19 more" in summary  # counted at stop, not logged one by one
    assert "Traceback" not in mllp_log.text


def test_a_connection_freed_under_max_connections_makes_room_for_a_new_one(mllp_log):
    """Once a connection closes, the next one is served again."""

    async def scenario():
        async with MllpServer(Handler(), settings(max_connections=2)) as server:
            held = await open_clients(server, 2)
            for n, client in enumerate(held):
                await client.call(message(n))
            async with connect(server) as refused:
                assert await refused.closed_without_reply()
            held[0].close()
            await until(lambda: server.connections == 1)
            async with connect(server) as client:
                assert await client.call(message(7)) == b"ACK " + message(7)[:20]
            held[1].close()

    run(scenario())


def test_refusals_not_logged_are_counted_in_the_next_line():
    """A throttled log says how many events it did not log since its last line."""
    throttle = LogThrottle(10.0)
    assert throttle.due(100.0) == 0
    assert [throttle.due(t) for t in (101.0, 105.0, 109.9)] == [None, None, None]
    assert throttle.due(110.0) == 3
    assert throttle.due(111.0) is None


# --- frame_timeout_s -------------------------------------------------------------------


async def trickle(client: Client, first: bytes, byte: bytes) -> bool:
    """Send `first`, then `byte` every 50 ms; True once the server closed the connection.

    Gives up (False) after 400 bytes, far beyond the frame timeouts used here.
    """
    if not await client.write(first):
        return True
    for _ in range(400):
        await asyncio.sleep(0.05)
        if not await client.write(byte) or client.reader.at_eof():
            return True
    return False


def test_a_frame_trickling_in_is_closed_at_its_deadline(mllp_log):
    """A frame that keeps receiving a byte now and then is closed at frame_timeout_s."""

    async def scenario():
        handler = Handler()
        server_settings = settings(frame_timeout_s=0.3, idle_timeout_s=30)
        async with (
            MllpServer(handler, server_settings) as server,
            connect(server) as client,
        ):
            closer = asyncio.create_task(client.closed_without_reply())
            assert await trickle(client, START_BLOCK + b"MSH|", b"x")
            assert await closer
            await until(lambda: server.connections == 0)
            assert server.buffered_bytes == 0
            assert server.refused["frame_timeout"] == 1
        assert handler.payloads == []

    run(scenario())
    (line,) = lines(mllp_log, "frame_timeout_s")
    assert "127.0.0.1:" in line
    assert "Traceback" not in mllp_log.text


def test_junk_trickling_in_is_closed_at_the_frame_deadline(mllp_log):
    """Bytes that never start a frame do not hold a connection open either."""

    async def scenario():
        server_settings = settings(frame_timeout_s=0.3, idle_timeout_s=30)
        async with (
            MllpServer(Handler(), server_settings) as server,
            connect(server) as client,
        ):
            assert await trickle(client, b"x", b"x")

    run(scenario())
    assert len(lines(mllp_log, "frame_timeout_s")) == 1


def test_a_restarted_frame_does_not_get_a_new_deadline(mllp_log):
    """A sender that sends start block after start block is closed at the first deadline."""

    async def scenario():
        server_settings = settings(frame_timeout_s=0.3, idle_timeout_s=30)
        async with (
            MllpServer(Handler(), server_settings) as server,
            connect(server) as client,
        ):
            assert await trickle(client, START_BLOCK, START_BLOCK)

    run(scenario())
    assert len(lines(mllp_log, "frame_timeout_s")) == 1


def test_the_frame_deadline_does_not_run_between_frames(mllp_log):
    """A connection silent after its ACK for longer than frame_timeout_s stays open."""

    async def scenario():
        server_settings = settings(frame_timeout_s=0.1, idle_timeout_s=30)
        async with (
            MllpServer(Handler(), server_settings) as server,
            connect(server) as client,
        ):
            assert await client.call(message(1)) == b"ACK " + message(1)[:20]
            # Blanks after a frame (a newline some senders add) owe no frame either.
            assert await client.write(b"\r\n")
            await asyncio.sleep(0.5)  # the scenario: a pause longer than the deadline
            assert await client.call(message(2)) == b"ACK " + message(2)[:20]

    run(scenario())
    assert lines(mllp_log, "frame_timeout_s") == []


# --- max_buffered_bytes ----------------------------------------------------------------

BUDGET = 1024 * KIB
PARTIAL = (
    300 * KIB
)  # each client's unterminated frame: three fit in the budget, not four
CLIENTS = 30


async def hold_partial_frames(server, count: int) -> tuple[list[Client], list[Client]]:
    """`count` connections each send a PARTIAL-byte frame without its end block.

    Returns (held, closed): those the server keeps, whole, and those it closed.
    """
    clients = await open_clients(server, count)
    closers = [asyncio.create_task(c.closed_without_reply()) for c in clients]
    payload = START_BLOCK + b"MSH|" + b"x" * (PARTIAL - 4)
    await asyncio.gather(*(c.write(payload) for c in clients))

    def settled() -> bool:
        closed = sum(task.done() for task in closers)
        return server.buffered_bytes == (count - closed) * PARTIAL

    await until(settled)
    held = [c for c, task in zip(clients, closers, strict=True) if not task.done()]
    closed = [c for c, task in zip(clients, closers, strict=True) if task.done()]
    for task in closers:
        task.cancel()
    return held, closed


def test_partial_frames_of_all_connections_stay_within_max_buffered_bytes(mllp_log):
    """Connections whose partial frame would exceed the shared budget are closed, no ACK."""

    async def scenario():
        server_settings = settings(
            max_message_bytes=512 * KIB, max_buffered_bytes=BUDGET
        )
        async with MllpServer(Handler(), server_settings) as server:
            held, closed = await hold_partial_frames(server, CLIENTS)
            assert 1 <= len(held) <= BUDGET // PARTIAL
            assert len(closed) == CLIENTS - len(held)
            assert server.buffered_bytes_peak <= BUDGET
            assert server.refused["over_buffer_budget"] == len(closed)
            for client in held + closed:
                client.close()
            await until(lambda: server.connections == 0)
            assert server.buffered_bytes == 0
            return len(closed)

    closed = run(scenario())
    assert len(lines(mllp_log, "max_buffered_bytes")) == closed
    assert "Traceback" not in mllp_log.text


def test_a_small_message_is_acked_while_the_buffer_budget_is_spent(mllp_log):
    """With the budget taken by partial frames, a small message still gets its ACK."""

    async def scenario():
        server_settings = settings(
            max_message_bytes=512 * KIB, max_buffered_bytes=BUDGET
        )
        async with MllpServer(Handler(), server_settings) as server:
            held, closed = await hold_partial_frames(server, CLIENTS)
            assert closed  # the budget is spent
            async with connect(server) as client:
                assert await client.call(message(5)) == b"ACK " + message(5)[:20]
            for client in held + closed:
                client.close()

    run(scenario())


def test_a_held_frame_completed_frees_its_bytes():
    """Once a partial frame is complete and answered, its bytes no longer count."""

    async def scenario():
        async with (
            MllpServer(Handler(), settings()) as server,
            connect(server) as client,
        ):
            await client.write(START_BLOCK + b"MSH|" + b"x" * PARTIAL)
            await until(lambda: server.buffered_bytes == PARTIAL + 4)
            await client.write(END_BLOCK)
            assert (await client.reader.readuntil(END_BLOCK)).startswith(
                START_BLOCK + b"ACK MSH|"
            )
            assert server.buffered_bytes == 0

    run(scenario())


# --- settings --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"max_connections": 0}, "mllp.max_connections"),
        ({"max_connections": 10001}, "mllp.max_connections"),
        ({"frame_timeout_s": 0}, "mllp.frame_timeout_s"),
        (
            {"max_buffered_bytes": 1024, "max_message_bytes": 2048},
            "mllp.max_buffered_bytes",
        ),
    ],
)
def test_invalid_limits_are_config_errors(overrides, key):
    """Out-of-range limits raise ConfigError naming the setting."""
    with pytest.raises(ConfigError) as excinfo:
        settings(**overrides)
    assert excinfo.value.key == key


def write_config(tmp_path: Path, mllp: str) -> Path:
    (tmp_path / "fmt.key").write_text("{}")
    path = tmp_path / "fmt.toml"
    path.write_text("[store]\n[mllp]\n" + mllp, encoding="utf-8")
    return path


def test_the_limits_are_read_from_the_mllp_table(tmp_path):
    """max_connections, frame_timeout_s and max_buffered_bytes come from [mllp]."""
    config = load_config(
        write_config(
            tmp_path,
            "max_connections = 32\nframe_timeout_s = 45\nmax_buffered_bytes = 33554432\n",
        )
    )
    assert config.mllp.max_connections == 32
    assert config.mllp.frame_timeout_s == 45.0
    assert config.mllp.max_buffered_bytes == 32 * 1024 * 1024


def test_the_limits_default_to_256_connections_120_s_and_64_mib(tmp_path):
    """Without the keys, the documented defaults apply."""
    config = load_config(write_config(tmp_path, ""))
    assert config.mllp.max_connections == 256
    assert config.mllp.frame_timeout_s == 120.0
    assert config.mllp.max_buffered_bytes == 64 * 1024 * 1024


def test_a_buffer_budget_below_the_message_limit_is_refused_in_the_file(tmp_path):
    """max_buffered_bytes under max_message_bytes is a ConfigError naming the key."""
    path = write_config(
        tmp_path, "max_message_bytes = 4096\nmax_buffered_bytes = 2048\n"
    )
    with pytest.raises(ConfigError) as excinfo:
        load_config(path)
    assert excinfo.value.key == "mllp.max_buffered_bytes"


# --- accept errors when descriptors run out (a child process with a low RLIMIT_NOFILE) -

FD_LIMIT = 64
CHILD = textwrap.dedent(
    """
    import asyncio, logging, resource, sys
    resource.setrlimit(resource.RLIMIT_NOFILE, ({limit}, {limit}))
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                        format="%(levelname)s %(name)s %(message)s")
    from fmt_plugin.mllp import MllpServer, MllpSettings
    from fmt_plugin.mllp import server as mllp_server
    mllp_server.LOG_THROTTLE_S = 3600.0

    class Handler:
        async def handle_frame(self, payload, peer):
            return [b"ACK " + payload[:20]]
        def reject_oversize(self, head, peer):
            return b"AR"

    async def main():
        settings = MllpSettings(host="127.0.0.1", port=0, max_connections=1000)
        async with MllpServer(Handler(), settings) as server:
            print(server.port, flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

    asyncio.run(main())
    """
)


@dataclass
class Child:
    """The child process and its stderr lines, read as they come (a full pipe would block
    it, as a full journal does not)."""

    process: subprocess.Popen[str]
    port: int = 0
    lines: list[str] = field(default_factory=list)
    printed: threading.Condition = field(default_factory=threading.Condition)
    ended: bool = False

    def read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self.printed:
                self.lines.append(line)
                self.printed.notify_all()
        with self.printed:
            self.ended = True
            self.printed.notify_all()

    def wait_for(self, text: str) -> None:
        def seen() -> bool:
            return self.ended or any(text in line for line in self.lines)

        with self.printed:
            self.printed.wait_for(seen, TEST_TIMEOUT_S)
        assert any(text in line for line in self.lines), "".join(self.lines)


@pytest.fixture
def low_fd_server() -> Iterator[Child]:
    """The listener in a child limited to FD_LIMIT descriptors, max_connections above it."""
    process = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(limit=FD_LIMIT)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    child = Child(process)
    reader = threading.Thread(target=child.read_stderr, daemon=True)
    reader.start()
    assert process.stdout is not None
    child.port = int(process.stdout.readline())
    yield child
    if process.poll() is None:
        process.kill()
        process.wait(timeout=30)
    reader.join(timeout=30)
    for pipe in (process.stdin, process.stdout, process.stderr):
        if pipe is not None:
            pipe.close()


def test_running_out_of_descriptors_logs_one_line_and_the_listener_recovers(
    low_fd_server,
):
    """EMFILE on accept logs one throttled line, no traceback; a message is ACKed after."""
    child = low_fd_server

    async def scenario():
        loop = asyncio.get_running_loop()
        target = Address("127.0.0.1", child.port)
        clients = await open_clients(target, FD_LIMIT + 40)
        for client in clients:
            await client.write(START_BLOCK + b"MSH|")  # slow senders: a frame started
        await loop.run_in_executor(None, child.wait_for, "accept() failed")
        for client in clients:
            client.close()
        async with connect(target) as client:
            assert await client.call(message(3)) == b"ACK " + message(3)[:20]

    run(scenario())
    assert child.process.stdin is not None
    child.process.stdin.close()  # EOF on stdin: the child stops
    assert child.process.wait(timeout=30) == 0
    with child.printed:
        child.printed.wait_for(lambda: child.ended, TEST_TIMEOUT_S)
    log = "".join(child.lines)
    assert "Traceback" not in log
    accept_errors = [ln for ln in child.lines if "accept() failed" in ln]
    assert len(accept_errors) == 1
    assert "EMFILE" in accept_errors[0]
    assert f"file descriptor limit {FD_LIMIT} " in log  # the start-up warning
    assert len(log) < 64 * KIB


# --- /health of the real service while the MLLP listener is saturated ------------------

SERVICE_FD_LIMIT = 256
SERVICE_MAX_CONNECTIONS = 64
SITECUSTOMIZE = (
    "import resource\n"
    f"resource.setrlimit(resource.RLIMIT_NOFILE, ({SERVICE_FD_LIMIT}, {SERVICE_FD_LIMIT}))\n"
)


CLOSED = re.compile(r"MLLP connection from \S+ closed: ")


def result_message(control_id: str) -> bytes:
    segments = [
        (
            "MSH|^~\\&|LABO|BIOLAB|FMT|CABINET|20260620101500||ORU^R01^ORU_R01|"
            f"{control_id}|P|2.5"
        ),
        "PID|1||148080905620659^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS",
        "OBR|1|CMD|" + control_id + "|^BILAN^L|||202509160800",
        "OBX|1|NM|4548-4^HbA1c^LN||7.4|%|||||F|||202509160800",
    ]
    return ("\r".join(segments) + "\r").encode("ascii")


@pytest.fixture
def limited_service(tmp_path: Path) -> Iterator[Server]:
    """`fmt-plugin serve` under SERVICE_FD_LIMIT descriptors, max_connections below it."""
    init = cli(tmp_path, "init", "inst", "--roster", PUBLIC_SCENARIO / "roster.csv")
    assert init.returncode == 0, init.stderr
    config = tmp_path / "inst" / "fmt.toml"
    text = config.read_text("utf-8")
    assert "\nmax_connections = 256\n" in text
    config.write_text(
        text.replace(
            "\nmax_connections = 256\n",
            f"\nmax_connections = {SERVICE_MAX_CONNECTIONS}\n",
        ),
        "utf-8",
    )
    # The limit is set in the service's own process, before anything opens a file.
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE, "utf-8")
    running = start_server(config, tmp_path, python_path=site)
    yield running
    running.stop()


def get_health(server: Server) -> int:
    with urllib.request.urlopen(server.status_url + "/health", timeout=30) as r:  # noqa: S310
        json.load(r)
        return int(r.status)


def get_refusals(server: Server) -> dict[str, int]:
    """The listener's refusals by reason, from /status."""
    with urllib.request.urlopen(server.status_url + "/status", timeout=30) as r:  # noqa: S310
        return dict(json.load(r)["ecoute_hl7"]["refus"])


def wait_for_closes(service: Server) -> None:
    """Until the service logged the close of every connection it had accepted."""

    def all_closed() -> bool:
        closes = sum(bool(CLOSED.search(line)) for line in service.lines)
        return closes >= SERVICE_MAX_CONNECTIONS

    with service.printed:
        assert service.printed.wait_for(all_closed, TEST_TIMEOUT_S)


@pytest.mark.slow
def test_health_answers_while_the_mllp_listener_is_saturated(limited_service):
    """Slow senders beyond max_connections and the descriptor limit leave /health up."""
    service = limited_service

    async def scenario():
        loop = asyncio.get_running_loop()
        target = Address(service.host, service.port)
        clients = await open_clients(target, SERVICE_FD_LIMIT + 100)
        for client in clients:
            await client.write(START_BLOCK + b"MSH|")
        await loop.run_in_executor(None, service.wait_for_line, "max_connections")
        assert await loop.run_in_executor(None, get_health, service) == 200
        refused = await loop.run_in_executor(None, get_refusals, service)
        assert refused["too_many_connections"] > 0  # what the log only samples
        for client in clients:
            client.close()
        await loop.run_in_executor(None, wait_for_closes, service)
        async with connect(target) as client:
            ack = await client.call(result_message("LIM1"))
        assert b"MSA|AA|LIM1" in ack or b"MSA|AE|LIM1" in ack

    run(scenario())
    assert not any("Traceback" in line for line in service.lines)
    assert sum("max_connections" in line for line in service.lines) <= 2


# --- the systemd unit ------------------------------------------------------------------


def test_the_unit_allows_more_descriptors_than_the_default_connections_need():
    """LimitNOFILE in the unit leaves room for max_connections and the service's own files."""
    unit = Path(__file__).parents[1] / "packaging" / "fmt-plugin.service"
    values = re.findall(r"(?m)^LimitNOFILE=(\d+)$", unit.read_text("utf-8"))
    assert values, "LimitNOFILE= is missing from the unit"
    needed = MllpSettings().max_connections + mllp_server.FD_RESERVE
    assert int(values[-1]) >= needed


def run(coro):
    return run_bounded(coro, TEST_TIMEOUT_S)
