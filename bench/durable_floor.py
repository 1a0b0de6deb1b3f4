"""The floor of a durable MLLP receiver in Python: what no design of fmt-plugin can beat.

`python bench/durable_floor.py --port P --mode inline|thread --store FILE` serves MLLP on
127.0.0.1:P and, for every frame, commits the raw bytes to SQLite (WAL, synchronous=FULL,
one unique index on MSH-10 for deduplication: the same durability as fmt-plugin's ingest)
before it answers an `AA` written from a byte template. It does nothing else: no decoding,
no parsing, no patient match, no encryption, no audit, no re-evaluation. Whatever fmt-plugin
does on top of this costs time; so the rate this server reaches is the ceiling of any
fmt-plugin listener on the same machine, and the benchmark runs it beside the others
(`bench/mllp_ingest.py --peers floor-inline,floor-thread,python-hl7,fmt-plugin`).

- `inline`: the commit runs on the event loop's thread, in `data_received`: the shortest
  path for one sender (no thread hop), but no frame is read while the fsync runs.
- `thread`: frames are committed on one store thread; the frames that arrive during a commit
  are committed together in the next one (group commit), as fmt-plugin's receiver does.

- `streams`: as `thread`, but on asyncio streams with a timeout around every read and every
  drain, as fmt-plugin's listener is written: the difference with `thread` is what
  `asyncio.Protocol` could save fmt-plugin.

`asyncio.Protocol` (no streams, but in `streams` mode), MSH-10 found with `bytes.split`, the
ACK from a template.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sqlite3
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

START_BLOCK = b"\x0b"
END = b"\x1c\r"
HOST = "127.0.0.1"
ACK_HEAD = b"\x0bMSH|^~\\&|FLOOR|BENCH|||20260101000000||ACK^R01^ACK|A"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS messages ("
    "id INTEGER PRIMARY KEY, control_id BLOB NOT NULL UNIQUE, body BLOB NOT NULL)"
)


def open_store(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute(_SCHEMA)
    return connection


def control_id(message: bytes) -> bytes:
    header = message.split(b"\r", 1)[0]
    fields = header.split(header[3:4])
    return fields[9] if len(fields) > 9 else b""


def ack_for(cid: bytes) -> bytes:
    return ACK_HEAD + cid + b"|P|2.5\rMSA|AA|" + cid + b"\r" + END


def commit(connection: sqlite3.Connection, frames: Sequence[bytes]) -> list[bytes]:
    """Commit `frames` in one transaction; the control id of each (duplicates kept once)."""
    ids = [control_id(body) for body in frames]
    connection.execute("BEGIN IMMEDIATE")
    connection.executemany(
        "INSERT OR IGNORE INTO messages(control_id, body) VALUES (?, ?)",
        zip(ids, frames, strict=True),
    )
    connection.execute("COMMIT")
    return ids


class FloorProtocol(asyncio.Protocol):
    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if isinstance(transport, asyncio.Transport):
            self.transport = transport

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data
        frames = []
        while True:
            end = buffer.find(END)
            if end < 0:
                break
            start = buffer.find(START_BLOCK, 0, end)
            if start >= 0:
                frames.append(buffer[start + 1 : end])
            buffer = buffer[end + 2 :]
        self.buffer = buffer
        if frames and self.transport is not None:
            self.receiver.received(self.transport, frames)


class GroupCommitter:
    """Commits on one store thread; what arrives during a commit goes in the next one."""

    def __init__(self, store: Path) -> None:
        self.connection = open_store(store)
        self.executor = ThreadPoolExecutor(1)
        #: (frame, what to call with its control id once committed)
        self.waiting: list[tuple[bytes, Callable[[bytes], None]]] = []
        self.committing = False

    def add(self, body: bytes, committed: Callable[[bytes], None]) -> None:
        self.waiting.append((body, committed))
        if not self.committing:
            self.committing = True
            asyncio.get_running_loop().create_task(self._commit_waiting())

    async def _commit_waiting(self) -> None:
        loop = asyncio.get_running_loop()
        while self.waiting:
            batch, self.waiting = self.waiting, []
            ids = await loop.run_in_executor(
                self.executor, commit, self.connection, [body for body, _ in batch]
            )
            for (_, committed), cid in zip(batch, ids, strict=True):
                committed(cid)
        self.committing = False


class Receiver:
    """Commits frames before answering them, inline or through a `GroupCommitter`."""

    def __init__(self, store: Path, mode: str) -> None:
        self.inline = mode == "inline"
        self.committer = GroupCommitter(store)

    def received(self, transport: asyncio.Transport, frames: list[bytes]) -> None:
        if self.inline:
            for cid in commit(self.committer.connection, frames):
                transport.write(ack_for(cid))
            return

        def answer(cid: bytes) -> None:
            if not transport.is_closing():
                transport.write(ack_for(cid))

        for body in frames:
            self.committer.add(body, answer)


class StreamsReceiver:
    """`thread` mode on asyncio streams: one task per connection, a timeout per await."""

    def __init__(self, store: Path) -> None:
        self.committer = GroupCommitter(store)

    async def serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        buffer = b""
        while True:
            async with asyncio.timeout(600):
                data = await reader.read(65536)
            if not data:
                writer.close()
                return
            buffer += data
            while (end := buffer.find(END)) >= 0:
                start = buffer.find(START_BLOCK, 0, end)
                body, buffer = buffer[start + 1 : end], buffer[end + 2 :]
                if start < 0:
                    continue
                writer.write(ack_for(await self.committed(body)))
                async with asyncio.timeout(600):
                    await writer.drain()

    async def committed(self, body: bytes) -> bytes:
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.committer.add(body, future.set_result)
        return await future


async def serve(port: int, store: Path, mode: str) -> None:
    loop = asyncio.get_running_loop()
    server: asyncio.Server
    if mode == "streams":
        streams = StreamsReceiver(store)
        server = await asyncio.start_server(streams.serve, HOST, port)
    else:
        receiver = Receiver(store, mode)
        server = await loop.create_server(lambda: FloorProtocol(receiver), HOST, port)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    async with server:
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--mode", choices=("inline", "thread", "streams"), default="thread"
    )
    parser.add_argument("--store", type=Path, required=True)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.port, args.store, args.mode))
    return 0


if __name__ == "__main__":
    sys.exit(main())
