"""A bare MLLP client for the listener's tests: frames out, frames in, over a real socket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager, suppress
from typing import Any, Protocol, TypeVar

from fmt_plugin.mllp import END_BLOCK, START_BLOCK, MllpSettings, frame

T = TypeVar("T")
#: Every test body runs under a bound, so a bug shows as a failure, not a hung suite.
TEST_TIMEOUT_S = 30.0


class Listening(Protocol):
    host: str
    port: int


class Client:
    """One connection to a listener."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer

    async def send(self, *payloads: bytes) -> None:
        self.writer.write(b"".join(frame(p) for p in payloads))
        await self.writer.drain()

    async def recv(self) -> bytes:
        data = await self.reader.readuntil(END_BLOCK)
        assert data.startswith(START_BLOCK)
        return data[1 : -len(END_BLOCK)]

    async def call(self, payload: bytes) -> bytes:
        await self.send(payload)
        return await self.recv()

    async def write(self, data: bytes) -> bool:
        """Write and drain; False if the server closed the connection meanwhile."""
        try:
            self.writer.write(data)
            await self.writer.drain()
        except ConnectionError:
            return False
        return True

    async def closed_without_reply(self) -> bool:
        """True if the server closes (EOF or reset) without sending anything more."""
        try:
            return await self.reader.read() == b""
        except ConnectionError:
            return True

    def close(self) -> None:
        self.writer.close()


@asynccontextmanager
async def connect(
    server: Listening, client: type[Client] = Client
) -> AsyncIterator[Client]:
    """A `client` connected to `server` (anything with `host` and `port`), closed after."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        yield client(reader, writer)
    finally:
        writer.close()
        with suppress(ConnectionError):
            await writer.wait_closed()


def run(coro: Coroutine[Any, Any, T], timeout_s: float = TEST_TIMEOUT_S) -> T:
    """Run a test body on a fresh event loop, failing it after `timeout_s`."""

    async def bounded() -> T:
        async with asyncio.timeout(timeout_s):
            return await coro

    return asyncio.run(bounded())


def settings(**overrides: Any) -> MllpSettings:
    """Listener settings on a free port of 127.0.0.1, with `overrides`."""
    return MllpSettings(**{"host": "127.0.0.1", "port": 0, **overrides})
