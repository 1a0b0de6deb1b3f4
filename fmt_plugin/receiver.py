"""The MLLP frame handler: hands frames to the ingest pipeline and answers once committed.

SQLite work runs on one dedicated store thread so the event loop keeps serving sockets.
Frames that arrive while a commit is running are committed together in the next transaction
(group commit): with eight senders, one fsync acknowledges up to eight messages. Small
messages are parsed on the loop as they arrive, so the store thread only commits and the
parsing of the next frames overlaps the SQLite work of the commit in progress (eight
senders: +12 % in bench/).

A lone sender (this batch and the one before it each held one small message) has its message
committed on the event loop's own thread instead: handing a message to the store thread and
its outcome back costs two thread wake-ups, about a tenth of a millisecond, which is a tenth
of a lone sender's round trip (`bench/durable_floor.py` measures it: 4,800 against 3,200
msg/s for the bare commit). A store lock keeps the two threads off the SQLite connection at
the same time. Inline commits slower than INLINE_SLOW_S, three in a row (a slow disk), send
the next ones to the store thread for a while: the loop, which also serves the dashboard,
must not wait on the disk.

Adapters' code never runs on the loop: with an adapter that rewrites messages or matches
patients itself, every message is parsed and committed on the store thread, and the
adapters hear of an inline commit's events afterwards, on that thread.

A large message (LARGE_MESSAGE_BYTES or more: a lab's year of results in one ORU) is parsed
on a thread of its own and committed in a transaction of its own, so that the seconds its
parsing takes never stand between another sender's small message and its ACK.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TypeVar

from fmt_plugin.hl7 import ack
from fmt_plugin.ingest import (
    Disposition,
    Incoming,
    Ingestor,
    IngestOutcome,
    PreparedMessage,
)
from fmt_plugin.mllp.server import PeerInfo
from fmt_plugin.storage.inbox import Rejection
from fmt_plugin.store_writable import WriteFailure, is_write_failure, sqlite_code_of
from fmt_plugin.timezone import PARIS

log = logging.getLogger(__name__)

#: At most this many messages per transaction: bounds the latency a burst adds.
MAX_BATCH = 64
#: From this size on, a message is parsed off the store thread and committed alone.
LARGE_MESSAGE_BYTES = 256 * 1024
#: A lone sender's message up to this size is committed on the event loop's thread.
INLINE_MAX_BYTES = 64 * 1024
#: An inline commit slower than this means a slow disk: the loop (the dashboard, the other
#: connections) must not wait on its fsyncs, and two thread hops are noise beside them.
INLINE_SLOW_S = 0.005
#: Slow inline commits in a row that make a slow disk (one alone is a hiccup: a checkpoint).
INLINE_SLOW_IN_A_ROW = 3
#: How long commits then stay on the store thread.
INLINE_PAUSE_S = 60.0
T = TypeVar("T")


@dataclass
class _Pending:
    incoming: Incoming
    future: asyncio.Future[IngestOutcome]
    #: Set once parsed: on the large-message thread, or on the loop (see `handle_frame`).
    prepared: PreparedMessage | None = None
    #: A large message: committed in a transaction of its own.
    large: bool = False


class IngestReceiver:
    """A `FrameHandler` committing every frame through an `Ingestor` before answering.

    `open_ingestor` runs on the store thread (SQLite connections belong to the thread that
    opened them) and returns the ingestor and a function closing what it opened.
    `on_patients_written` is told, after the ACKs are released, which patients the accepted
    messages of a commit were about (the service re-evaluates them in the background).
    """

    def __init__(
        self,
        open_ingestor: Callable[[], tuple[Ingestor, Callable[[], None]]],
        *,
        max_message_bytes: int,
        on_patients_written: Callable[[Sequence[str]], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._open = open_ingestor
        #: Seconds, for the inline pause (tests pass a clock they move).
        self._clock = clock
        self._max_bytes = max_message_bytes
        self._on_patients_written = on_patients_written
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="fmt-store")
        self._large = ThreadPoolExecutor(1, thread_name_prefix="fmt-parse-large")
        #: A large message taken from the queue while a batch of small ones was gathered.
        self._held: _Pending | None = None
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue()
        self._ingestor: Ingestor | None = None
        self._close: Callable[[], None] | None = None
        self._task: asyncio.Task[None] | None = None
        #: Frames answered since start, by disposition (`accepted`, `duplicate`…) or `failed`.
        self.tally: Counter[str] = Counter()
        #: Commits run on the event loop's thread (a lone sender's), since start.
        self.inline_commits = 0
        #: Inline commits slower than this, INLINE_SLOW_IN_A_ROW times in a row, pause
        #: inlining for INLINE_PAUSE_S.
        self.inline_slow_s = INLINE_SLOW_S
        self._slow_in_a_row = 0
        self._inline_paused_until = float("-inf")
        #: Since when the store refuses the ingest's commits; None once one commits again.
        self.write_failure: WriteFailure | None = None
        self._last_commit = float("-inf")
        #: Held by whichever thread uses the store: the store thread or an inline commit.
        self._store_lock = threading.Lock()
        self._previous_batch = 0
        self._inline_allowed = False
        #: Whether an adapter listens to `fmt_events_stored` (told after inline commits).
        self._events_heard = False
        #: Adapters' notifications of inline commits, queued on the store thread.
        self._notifying: set[asyncio.Future[None]] = set()

    async def start(self) -> None:
        """Open the store on its thread and start committing."""
        ingestor, self._close = await self.on_store_thread(self._open)
        self._ingestor = ingestor
        # An adapter's code (a rewrite, its own patient match) may block: never on the loop.
        self._inline_allowed = ingestor.commits_on_any_thread
        self._events_heard = ingestor.has_event_listeners
        self._task = asyncio.create_task(self._commit_loop(), name="fmt-ingest")

    async def stop(self) -> None:
        """Commit what is queued, then close the store and its thread.

        Call after the listener stopped taking frames.
        """
        if self._task is not None:
            await self._queue.put(None)
            await self._task
            self._task = None
        if self._notifying:
            await asyncio.gather(*self._notifying)
        if self._close is not None:
            await self.on_store_thread(self._close)
            self._close = None
        self._executor.shutdown(wait=True)
        self._large.shutdown(wait=True)

    async def on_store_thread(self, function: Callable[[], T]) -> T:
        """Run `function` on the store thread, holding the store lock."""

        def locked() -> T:
            with self._store_lock:
                return function()

        return await asyncio.get_running_loop().run_in_executor(self._executor, locked)

    async def handle_frame(self, payload: bytes, peer: PeerInfo) -> Sequence[bytes]:
        """Commit the message, then return its ACK(s), in sending order.

        One ACK in original mode; in enhanced mode the accept ACK and/or the application
        ACK that MSH-15/16 ask for, possibly none.

        Raises when the store could not commit: the listener then closes the connection
        without an ACK, and the sender sends the message again.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[IngestOutcome] = loop.create_future()
        incoming = Incoming(payload, "mllp", f"{peer.host}:{peer.port}")
        pending = _Pending(incoming, future)
        ingestor = self._ingestor
        if len(payload) >= LARGE_MESSAGE_BYTES and ingestor is not None:
            pending.large = True
            pending.prepared = await loop.run_in_executor(
                self._large, ingestor.prepare, incoming
            )
        elif self._inline_allowed and ingestor is not None:
            # Parsed here, while the store thread may be in SQLite for an earlier batch
            # (SQLite releases the GIL): the two overlap instead of queueing on one thread.
            pending.prepared = ingestor.prepare(incoming)
        await self._queue.put(pending)
        outcome = await future
        return outcome.acks

    def committed_recently(self, within_s: float) -> bool:
        """True when a commit ended less than `within_s` ago (messages are flowing)."""
        return time.monotonic() - self._last_commit < within_s

    def reject_oversize(self, head: bytes, peer: PeerInfo) -> bytes:
        """AR for a frame over the size limit; the message itself cannot be kept."""
        log.warning(
            "frame over %d bytes from %s refused (AR), connection closed",
            self._max_bytes,
            peer.host,
        )
        rejection = Rejection(
            "AR",
            f"message trop volumineux (plus de {self._max_bytes} octets)",
            207,
        )
        header = ack.header_of_raw(head)
        return ack.build_ack(header, "AR", rejection, now=datetime.now(PARIS))

    async def _commit_loop(self) -> None:
        while True:
            first, self._held = self._held or await self._queue.get(), None
            if first is None:
                return
            batch = [first]
            stopping = False
            # A large message is committed alone: its transaction is the long one.
            while (
                not first.large and len(batch) < MAX_BATCH and not self._queue.empty()
            ):
                item = self._queue.get_nowait()
                if item is None:
                    stopping = True
                    break
                if item.large:
                    self._held = item
                    break
                batch.append(item)
            await self._commit(batch)
            if stopping:
                return

    async def _commit(self, batch: list[_Pending]) -> None:
        ingestor = self._ingestor
        if ingestor is None:
            raise RuntimeError("receiver not started")

        def commit(notify: bool) -> list[IngestOutcome]:
            return ingestor.commit(
                [p.prepared or ingestor.prepare(p.incoming) for p in batch],
                notify=notify,
            )

        inline = self._lone(batch) and self._store_lock.acquire(blocking=False)
        try:
            if inline:
                started = time.perf_counter()
                try:
                    outcomes = commit(notify=False)
                finally:
                    self._store_lock.release()
                    self._time_inline(time.perf_counter() - started)
                self.inline_commits += 1
            else:
                outcomes = await self.on_store_thread(partial(commit, True))
        except Exception as exc:  # noqa: BLE001 -- every waiting sender must be told
            # No ACK for any message of the batch: nothing of it was committed.
            log.error(
                "commit of %d messages failed (%s): no ACK sent",
                len(batch),
                type(exc).__name__,
            )
            self.tally["failed"] += len(batch)
            if self.write_failure is None and is_write_failure(exc):
                self.write_failure = WriteFailure(
                    datetime.now(PARIS), sqlite_code_of(exc)
                )
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_exception(exc)
            return
        self._last_commit = time.monotonic()
        if self.write_failure is not None:
            log.warning("store writable again: a commit of the ingest succeeded")
            self.write_failure = None
        self.tally.update(outcome.disposition.value for outcome in outcomes)
        for pending, outcome in zip(batch, outcomes, strict=True):
            if not pending.future.done():
                pending.future.set_result(outcome)
        if inline and self._events_heard:
            self._notify_later(ingestor, outcomes)
        if self._on_patients_written is not None:
            # After the futures: the ACKs go out first, whatever the listener does next.
            self._on_patients_written(
                [
                    o.patient_id
                    for o in outcomes
                    if o.patient_id and o.disposition is Disposition.ACCEPTED
                ]
            )

    def _time_inline(self, elapsed_s: float) -> None:
        """Pause inlining after slow inline commits in a row (a slow disk)."""
        if elapsed_s <= self.inline_slow_s:
            self._slow_in_a_row = 0
            return
        self._slow_in_a_row += 1
        if self._slow_in_a_row < INLINE_SLOW_IN_A_ROW:
            return
        self._slow_in_a_row = 0
        self._inline_paused_until = self._clock() + INLINE_PAUSE_S
        log.info(
            "%d commits in a row took over %g ms (the last %.1f ms): commits go "
            "through the store thread for %gs, "
            "so that the event loop does not wait on the disk",
            INLINE_SLOW_IN_A_ROW,
            self.inline_slow_s * 1000,
            elapsed_s * 1000,
            INLINE_PAUSE_S,
        )

    def _lone(self, batch: list[_Pending]) -> bool:
        """Whether to commit `batch` inline: one small message, after a batch of one,
        while inline commits are fast."""
        lone = (
            self._inline_allowed
            and self._clock() >= self._inline_paused_until
            and len(batch) == 1
            and self._previous_batch == 1
            and not batch[0].large
            and len(batch[0].incoming.raw) <= INLINE_MAX_BYTES
        )
        self._previous_batch = len(batch)
        return lone

    def _notify_later(self, ingestor: Ingestor, outcomes: list[IngestOutcome]) -> None:
        """Tell the adapters of an inline commit's events on the store thread, in order."""
        done = asyncio.ensure_future(
            self.on_store_thread(partial(ingestor.notify_stored, outcomes))
        )
        self._notifying.add(done)
        done.add_done_callback(self._notifying.discard)
