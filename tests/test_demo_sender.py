"""The demo's MLLP client against a peer on a real socket that answers, errs or hangs up."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from fmt_plugin.demo.sender import SendError, send_messages
from fmt_plugin.hl7.er7 import parse_message
from fmt_plugin.mllp.framing import END_BLOCK, frame

#: What the peer does with a message, by its MSH-10: "AA", "AE", "close" or "other".
Behaviour = Callable[[str], str]


def messages(count: int) -> list[bytes]:
    return [
        f"MSH|^~\\&|LABO|BIOLAB|FMT|CABINET|20260315||ORU^R01|M{i}|P|2.5\r".encode()
        for i in range(count)
    ]


def ack(control_id: str, code: str, acknowledged: str) -> bytes:
    return frame(
        f"MSH|^~\\&|FMT|CABINET|LABO|BIOLAB|20260315||ACK^R01^ACK|A{control_id}|P|2.5\r"
        f"MSA|{code}|{acknowledged}\r".encode()
    )


async def send_to_peer(
    behaviour: Behaviour, count: int, connections: int
) -> tuple[object, list[str]]:
    """Serve `behaviour` on a free port, send `count` messages; the report, ids received."""
    received: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        try:
            while True:
                data = await reader.readuntil(END_BLOCK)
                control_id = parse_message(data[1:-2]).control_id
                received.append(control_id)
                action = behaviour(control_id)
                if action == "close":
                    return
                named = control_id if action != "other" else "SOMEONE-ELSE"
                writer.write(ack(control_id, "AE" if action == "AE" else "AA", named))
                await writer.drain()
        except asyncio.IncompleteReadError:
            return
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        report = await send_messages(
            "127.0.0.1", port, messages(count), connections=connections, ack_timeout_s=5
        )
    return report, received


def test_every_message_sent_once_and_codes_counted():
    """Each message reaches the peer once; AA and AE are counted by MSA-1."""
    report, received = asyncio.run(
        send_to_peer(lambda cid: "AE" if cid.endswith("7") else "AA", 40, 4)
    )
    assert sorted(received) == sorted(f"M{i}" for i in range(40))
    assert report.sent == 40
    assert dict(report.ack_codes) == {"AA": 36, "AE": 4}
    assert report.unanswered == 0


def test_hang_up_counts_unanswered_and_reconnects():
    """A peer closing without an ACK leaves that message unanswered; the rest get through."""
    report, received = asyncio.run(
        send_to_peer(lambda cid: "close" if cid == "M3" else "AA", 10, 1)
    )
    assert report.unanswered == 1
    assert report.ack_codes["AA"] == 9
    assert len(received) == 10


def test_ack_naming_another_message_is_not_counted():
    """An ACK whose MSA-2 is not the message's MSH-10 counts as unanswered."""
    report, _ = asyncio.run(
        send_to_peer(lambda cid: "other" if cid == "M0" else "AA", 5, 1)
    )
    assert report.unanswered == 1
    assert report.acknowledged == 4


def test_nobody_listening_raises():
    """With no server on the port, SendError says the connection is impossible."""

    async def refused() -> None:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        await send_messages("127.0.0.1", port, messages(2))

    with pytest.raises(SendError, match="connexion MLLP impossible"):
        asyncio.run(refused())
