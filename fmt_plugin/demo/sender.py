"""An MLLP client: send messages over a few concurrent connections, wait for each ACK, count codes.

Each connection sends one message, waits for its acknowledgement, then takes the next message
from a shared queue, as an interface engine's outbound channels do. The codes are MSA-1 as
received (AA/AE/AR in original mode, CA/CE/CR in enhanced mode); an ACK that does not name the
message it answers (MSA-2 ≠ MSH-10) or never comes counts as unanswered, and is not resent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from fmt_plugin.errors import FmtError, Hl7Error
from fmt_plugin.hl7.er7 import parse_message
from fmt_plugin.mllp.framing import END_BLOCK, START_BLOCK, frame

DEFAULT_CONNECTIONS = 4
ACK_TIMEOUT_S = 30.0
#: Largest ACK accepted: ours are a few hundred bytes.
MAX_ACK_BYTES = 64 * 1024


@dataclass
class SendReport:
    """What the connections saw: ACK codes by MSA-1, and messages left unanswered."""

    sent: int = 0
    ack_codes: Counter[str] = field(default_factory=Counter)
    unanswered: int = 0

    @property
    def acknowledged(self) -> int:
        """Messages that got an ACK naming them, whatever its code."""
        return sum(self.ack_codes.values())


class SendError(FmtError):
    """The service could not be reached at all."""


async def send_messages(
    host: str,
    port: int,
    messages: Sequence[bytes],
    *,
    connections: int = DEFAULT_CONNECTIONS,
    ack_timeout_s: float = ACK_TIMEOUT_S,
) -> SendReport:
    """Send every message once over `connections` connections; what came back.

    Raises `SendError` when no connection can be opened; a connection that breaks later
    counts its message as unanswered and reconnects for the next one.
    """
    report = SendReport()
    queue = iter(messages)
    opened = await asyncio.gather(
        *(_connect(host, port) for _ in range(min(connections, len(messages)))),
        return_exceptions=True,
    )
    streams = [s for s in opened if not isinstance(s, BaseException)]
    if messages and not streams:
        raise SendError(f"connexion MLLP impossible à {host}:{port}")
    await asyncio.gather(
        *(
            _sender(host, port, stream, queue, report, ack_timeout_s)
            for stream in streams
        )
    )
    return report


Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def _connect(host: str, port: int) -> Streams:
    return await asyncio.open_connection(host, port, limit=MAX_ACK_BYTES)


async def _sender(
    host: str,
    port: int,
    stream: Streams | None,
    queue: Iterator[bytes],
    report: SendReport,
    timeout_s: float,
) -> None:
    """Send messages from `queue` until it is empty; close the connection at the end."""
    try:
        for message in queue:
            report.sent += 1
            try:
                if stream is None:
                    stream = await _connect(host, port)
                code = await asyncio.wait_for(_exchange(stream, message), timeout_s)
            except (OSError, TimeoutError, asyncio.IncompleteReadError, Hl7Error):
                code = None  # refused, reset, silent, cut short, or not an HL7 reply
            except asyncio.LimitOverrunError:
                code = None  # a reply larger than any ACK: the stream is out of step
            if code is None:
                report.unanswered += 1
                await _close(stream)
                stream = None
            else:
                report.ack_codes[code] += 1
    finally:
        await _close(stream)


async def _exchange(stream: Streams, message: bytes) -> str | None:
    """Write one framed message and read its ACK; MSA-1, or None if the ACK is not its own."""
    reader, writer = stream
    writer.write(frame(message))
    await writer.drain()
    reply = await reader.readuntil(END_BLOCK)
    ack = parse_message(reply[reply.find(START_BLOCK) + 1 : -len(END_BLOCK)])
    msa = ack.first("MSA")
    if msa is None or msa.value(2) != _control_id(message):
        return None
    return msa.value(1)


def _control_id(message: bytes) -> str:
    """MSH-10 of one of our messages (`|` separated, MSH first)."""
    header = message.split(b"\r", 1)[0].decode("utf-8")
    return header.split("|")[9]


async def _close(stream: Streams | None) -> None:
    if stream is None:
        return
    writer = stream[1]
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
