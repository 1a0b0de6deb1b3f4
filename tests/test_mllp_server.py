"""The MLLP listener over real sockets on 127.0.0.1, with a stand-in frame handler."""

from __future__ import annotations

import asyncio
import logging

import pytest
from mllp_client import TEST_TIMEOUT_S, connect, run, settings

from fmt_plugin.errors import ConfigError
from fmt_plugin.mllp import START_BLOCK, MllpServer, frame

SECRET = b"DUPONT^JEAN"  # stands for health data: must never reach a log line


def message(n: int) -> bytes:
    return b"MSH|^~\\&|LAB||FMT||||ORU^R01|" + b"%06d" % n + b"|P|2.5\rPID|||" + SECRET


class StubHandler:
    """Answers `ACK ` + the payload's first 20 bytes; can be made to block or to fail."""

    def __init__(self) -> None:
        self.payloads: list[bytes] = []
        self.peers = []
        self.heads: list[bytes] = []
        self.entered = asyncio.Event()  # set when a frame is being handled
        self.release: asyncio.Event | None = None  # when set, handling waits for it
        self.barrier: asyncio.Barrier | None = None  # when set, handling waits for it
        self.fail_on = b"BOOM"
        self.silent_on = b"NOACK"
        self.twice_on = b"TWICE"
        self.active = 0
        self.max_active = 0

    async def handle_frame(self, payload, peer):
        self.payloads.append(payload)
        self.peers.append(peer)
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        self.entered.set()
        try:
            if self.release is not None:
                await self.release.wait()
            if self.barrier is not None:
                await self.barrier.wait()
            if payload.startswith(self.fail_on):
                raise RuntimeError(payload.decode())  # the message quotes the payload
            if payload.startswith(self.silent_on):
                return []
            if payload.startswith(self.twice_on):
                return [b"ACK1 " + payload[:20], b"ACK2 " + payload[:20]]
            return [b"ACK " + payload[:20]]
        finally:
            self.active -= 1

    def reject_oversize(self, head, peer):
        self.heads.append(head)
        return b"AR " + head[:10]


@pytest.fixture
def mllp_log(caplog, monkeypatch):
    """Captures the listener's log records at DEBUG, whatever configured logging before."""
    monkeypatch.setattr(logging.getLogger("fmt_plugin"), "propagate", True)
    caplog.set_level(logging.DEBUG, logger="fmt_plugin.mllp")
    return caplog


def test_one_ack_per_frame_on_a_persistent_connection(mllp_log):
    """100 messages on one connection each get their ACK, in turn."""

    async def scenario():
        handler = StubHandler()
        async with MllpServer(handler, settings()) as server, connect(server) as client:
            for n in range(100):
                assert await client.call(message(n)) == b"ACK " + message(n)[:20]
            assert server.connections == 1
        assert len(handler.payloads) == 100
        assert handler.payloads[99] == message(99)
        assert {(p.host, p.tls_subject) for p in handler.peers} == {("127.0.0.1", None)}

    run(scenario())
    assert SECRET.decode() not in mllp_log.text


def test_pipelined_frames_are_acked_in_order():
    """Ten frames written at once are handled one at a time and ACKed in frame order."""

    async def scenario():
        handler = StubHandler()
        async with MllpServer(handler, settings()) as server, connect(server) as client:
            await client.send(*(message(n) for n in range(10)))
            acks = [await client.recv() for _ in range(10)]
        assert acks == [b"ACK " + message(n)[:20] for n in range(10)]
        assert handler.payloads == [message(n) for n in range(10)]
        assert handler.max_active == 1

    run(scenario())


def test_handler_returning_nothing_writes_nothing_and_goes_on():
    """A frame whose handler returns no payload gets no ACK; the next frame is served."""

    async def scenario():
        handler = StubHandler()
        async with MllpServer(handler, settings()) as server, connect(server) as client:
            await client.send(b"NOACK 1", message(2))
            assert await client.recv() == b"ACK " + message(2)[:20]
        assert handler.payloads == [b"NOACK 1", message(2)]

    run(scenario())


def test_several_payloads_are_written_in_order_before_the_next_frame_is_answered():
    """Two payloads for one frame arrive framed, in order, before the next frame's ACK."""

    async def scenario():
        handler = StubHandler()
        async with MllpServer(handler, settings()) as server, connect(server) as client:
            await client.send(b"TWICE 1", message(2))
            acks = [await client.recv() for _ in range(3)]
        assert acks == [b"ACK1 TWICE 1", b"ACK2 TWICE 1", b"ACK " + message(2)[:20]]

    run(scenario())


def test_twenty_concurrent_connections():
    """20 connections are served at once (a barrier holds each until all 20 are in)."""

    async def scenario():
        handler = StubHandler()
        handler.barrier = asyncio.Barrier(20)
        async with MllpServer(handler, settings()) as server:

            async def session(i):
                async with connect(server) as client:
                    return await client.call(message(i))

            acks = await asyncio.gather(*(session(i) for i in range(20)))
        assert acks == [b"ACK " + message(i)[:20] for i in range(20)]
        assert handler.max_active == 20

    run(scenario())


def test_idle_connection_is_closed(mllp_log):
    """A connection with no byte for idle_timeout_s is closed, with an INFO line."""

    async def scenario():
        async with (
            MllpServer(StubHandler(), settings(idle_timeout_s=0.2)) as server,
            connect(server) as client,
        ):
            assert await client.call(message(1)) == b"ACK " + message(1)[:20]
            assert await client.closed_without_reply()

    run(scenario())
    idle = [r for r in mllp_log.records if "idle for" in r.getMessage()]
    assert [r.levelno for r in idle] == [logging.INFO]


def test_oversize_frame_gets_the_reject_then_eof(mllp_log):
    """A frame over the limit gets the handler's reject payload, then the server closes."""

    async def scenario():
        handler = StubHandler()
        async with (
            MllpServer(handler, settings(max_message_bytes=100)) as server,
            connect(server) as client,
        ):
            big = message(1) + b"x" * 200
            assert await client.call(big) == b"AR " + big[:10]
            assert await client.closed_without_reply()
            assert server.refused["oversize"] == 1
        assert handler.heads == [big[:101]]
        assert handler.payloads == []

    run(scenario())
    assert any(
        r.levelno == logging.WARNING and "exceeds 100 bytes" in r.getMessage()
        for r in mllp_log.records
    )


def test_reject_reaches_a_sender_still_writing_a_large_frame():
    """With 1 MiB sent over a 100-byte limit, the AR still arrives, then EOF, no reset."""

    async def scenario():
        handler = StubHandler()
        async with (
            MllpServer(handler, settings(max_message_bytes=100)) as server,
            connect(server) as client,
        ):
            big = message(1) + b"x" * (1024 * 1024)
            await client.send(big)
            assert await client.recv() == b"AR " + big[:10]
            assert await client.reader.read() == b""
        assert handler.payloads == []

    run(scenario())


def test_handler_exception_closes_without_ack(mllp_log):
    """A failing handler gets the connection closed with no ACK; the server serves on."""

    async def scenario():
        handler = StubHandler()
        async with MllpServer(handler, settings()) as server:
            async with connect(server) as client:
                await client.send(b"BOOM " + SECRET, message(2))
                assert await client.closed_without_reply()
            assert handler.payloads == [
                b"BOOM " + SECRET
            ]  # the next frame was not handed
            async with connect(server) as client:
                assert await client.call(message(3)) == b"ACK " + message(3)[:20]

    run(scenario())
    errors = [r for r in mllp_log.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "RuntimeError" in errors[0].getMessage()
    assert errors[0].exc_info is None
    assert SECRET.decode() not in mllp_log.text


def test_junk_before_a_frame_is_skipped_and_the_frame_acked(mllp_log):
    """Junk before 0x0B is logged at WARNING; a stray newline at DEBUG; frames are ACKed."""

    async def scenario():
        async with (
            MllpServer(StubHandler(), settings()) as server,
            connect(server) as client,
        ):
            client.writer.write(
                b"garbage" + frame(message(1)) + b"\r\n" + frame(message(2))
            )
            assert await client.recv() == b"ACK " + message(1)[:20]
            assert await client.recv() == b"ACK " + message(2)[:20]

    run(scenario())
    junk = [
        (r.levelno, r.getMessage())
        for r in mllp_log.records
        if "skipped" in r.getMessage()
    ]
    assert [level for level, _ in junk] == [logging.WARNING, logging.DEBUG]
    assert "7 byte(s)" in junk[0][1]


def test_eof_or_reset_inside_a_frame_is_handled_quietly(mllp_log):
    """A peer that vanishes mid-frame (EOF, then a reset) costs a log line, not the server."""

    async def scenario():
        handler = StubHandler()
        async with MllpServer(handler, settings()) as server:
            async with connect(server) as client:
                client.writer.write(START_BLOCK + b"half a mess")
                await client.writer.drain()
            _, writer = await asyncio.open_connection(server.host, server.port)
            writer.write(START_BLOCK + b"half")
            await writer.drain()
            writer.transport.abort()
            async with connect(server) as client:
                assert await client.call(message(1)) == b"ACK " + message(1)[:20]
        assert handler.payloads == [message(1)]

    run(scenario())
    assert not [r for r in mllp_log.records if r.levelno >= logging.ERROR]


def test_graceful_stop_lets_the_frame_in_flight_finish(mllp_log):
    """stop() refuses new connections at once, but the frame being handled gets its ACK."""

    async def scenario():
        handler = StubHandler()
        handler.release = asyncio.Event()
        server = MllpServer(handler, settings())
        await server.start()
        async with connect(server) as client:
            await client.send(message(1), message(2))
            await handler.entered.wait()
            stopping = asyncio.create_task(server.stop(grace_s=TEST_TIMEOUT_S))
            await asyncio.sleep(
                0
            )  # a yield, not a delay: lets stop() close the listener
            assert not server.serving
            with pytest.raises(ConnectionRefusedError):
                await asyncio.open_connection(server.host, server.port)
            assert not stopping.done()
            handler.release.set()
            assert await client.recv() == b"ACK " + message(1)[:20]
            assert await client.closed_without_reply()  # message 2 is left to a resend
            await stopping
        assert handler.payloads == [message(1)]
        assert server.connections == 0

    run(scenario())


def test_stop_closes_idle_connections():
    """stop() closes connections that wait for bytes at once, and returns."""

    async def scenario():
        server = MllpServer(StubHandler(), settings())
        await server.start()
        async with connect(server) as one, connect(server) as two:
            assert await one.call(message(1)) == b"ACK " + message(1)[:20]
            assert await two.call(message(2)) == b"ACK " + message(2)[:20]
            assert server.connections == 2
            await server.stop(grace_s=TEST_TIMEOUT_S)
            assert server.connections == 0
            assert await one.closed_without_reply()
            assert await two.closed_without_reply()

    run(scenario())


def test_stop_cancels_a_frame_still_busy_after_the_grace_period(mllp_log):
    """A handler still busy after grace_s is cancelled; its frame gets no ACK."""

    async def scenario():
        handler = StubHandler()
        handler.release = asyncio.Event()  # never set
        server = MllpServer(handler, settings())
        await server.start()
        async with connect(server) as client:
            await client.send(message(1))
            await handler.entered.wait()
            await server.stop(grace_s=0.05)
            assert await client.closed_without_reply()
        assert server.connections == 0

    run(scenario())
    assert any("grace period over" in r.getMessage() for r in mllp_log.records)


def test_serve_until_stops_when_the_event_is_set():
    """serve_until() serves until its event is set, then stops."""

    async def scenario():
        server = MllpServer(StubHandler(), settings())
        stop = asyncio.Event()
        await server.start()
        serving = asyncio.create_task(server.serve_until(stop))
        async with connect(server) as client:
            assert await client.call(message(1)) == b"ACK " + message(1)[:20]
            stop.set()
            await serving
            assert await client.closed_without_reply()
        assert not server.serving

    run(scenario())


def test_port_in_use_is_a_config_error():
    """Binding a port already taken raises ConfigError naming mllp.port."""

    async def scenario():
        async with MllpServer(StubHandler(), settings()) as first:
            second = MllpServer(StubHandler(), settings(port=first.port))
            with pytest.raises(ConfigError) as excinfo:
                await second.start()
            assert excinfo.value.key == "mllp.port"

    run(scenario())


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"port": 70000}, "mllp.port"),
        ({"max_message_bytes": 0}, "mllp.max_message_bytes"),
        ({"idle_timeout_s": 0}, "mllp.idle_timeout_s"),
    ],
)
def test_invalid_settings_are_config_errors(overrides, key):
    """Out-of-range settings raise ConfigError naming the setting."""
    with pytest.raises(ConfigError) as excinfo:
        settings(**overrides)
    assert excinfo.value.key == key
