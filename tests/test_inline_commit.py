"""A lone sender's messages are committed on the event loop's thread; nothing else is.

The receiver the service runs, on a real store made by `init`: frames are handed to it as the
listener does, one after the other (a lone sender) or together (several senders).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from conftest import PUBLIC_SCENARIO, cli

from fmt_plugin.hl7.er7 import parse_message
from fmt_plugin.hooks import hookimpl
from fmt_plugin.ingest import Ingestor
from fmt_plugin.installation import open_installation
from fmt_plugin.mllp.server import PeerInfo
from fmt_plugin.model import PatientIdentifier, StoredEvent
from fmt_plugin.receiver import (
    INLINE_MAX_BYTES,
    INLINE_PAUSE_S,
    INLINE_SLOW_IN_A_ROW,
    LARGE_MESSAGE_BYTES,
    IngestReceiver,
)
from fmt_plugin.service import installation_ingestor

HEADER = (
    "MSH|^~\\&|LABO|BIOLAB|FMT|CABINET|20260620101500||ORU^R01^ORU_R01|{control}|P|2.5"
    "|||||FRA|UNICODE UTF-8\r"
    "PID|1||271020905620548^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS"
    "~Q05^^^CABINET&1.2.250.1.999.1&ISO^PI||ROLLAND^SOPHIE^^^^^L||19710214|F\r"
    "OBR|1|CMD{control}|RES{control}|^BILAN^L|||202401100800\r"
)
OBX = "OBX|{n}|NM|4548-4^HbA1c^LN|{n}|6.{n}|%|||||F|||202401100800\r"
PEER = PeerInfo("127.0.0.1", 40000)
#: The receiver's store thread (its ThreadPoolExecutor's one worker).
STORE_THREAD = "fmt-store_0"


def message(control: str, results: int = 1) -> bytes:
    body = "".join(OBX.format(n=n) for n in range(1, results + 1))
    return (HEADER.format(control=control) + body).encode()


def code_and_control_id(acks: Sequence[bytes]) -> str:
    (ack,) = acks
    msa = parse_message(ack).first("MSA")
    assert msa is not None
    return f"{msa.value(1)} {msa.value(2)}"


@pytest.fixture
def installation(tmp_path: Path) -> Path:
    """A practice made by `init` on the public scenario's roster; its fmt.toml."""
    init = cli(tmp_path, "init", "inst", "--roster", PUBLIC_SCENARIO / "roster.csv")
    assert init.returncode == 0, init.stderr
    return tmp_path / "inst" / "fmt.toml"


def opener(
    config: Path, *, cross_thread: bool = True, plugins: Sequence[object] = ()
) -> Callable[[], tuple[Ingestor, Callable[[], None]]]:
    """The receiver's `open_ingestor`, as the service's (a cross-thread store) or not."""

    def open_ingestor() -> tuple[Ingestor, Callable[[], None]]:
        opened = open_installation(config, cross_thread_store=cross_thread)
        for number, plugin in enumerate(plugins):
            opened.pm.register(plugin, name=f"vendor-{number}")
        return installation_ingestor(opened), opened.close

    return open_ingestor


def one_after_the_other(
    open_ingestor: Callable[[], tuple[Ingestor, Callable[[], None]]],
    frames: Sequence[bytes],
    *,
    slow_s: float = 60.0,
) -> tuple[list[str], int]:
    """Each frame's ACK awaited before the next is handed over; and the inline commits.

    `slow_s` is the duration from which an inline commit counts as slow: a minute by
    default, so that no test depends on the speed of the machine's disk.
    """

    async def run() -> tuple[list[str], int]:
        receiver = IngestReceiver(open_ingestor, max_message_bytes=64 * 1024 * 1024)
        receiver.inline_slow_s = slow_s
        await receiver.start()
        try:
            answers = [
                code_and_control_id(await receiver.handle_frame(f, PEER))
                for f in frames
            ]
        finally:
            await receiver.stop()
        return answers, receiver.inline_commits

    return asyncio.run(run())


def accepted_messages(config: Path) -> int:
    opened = open_installation(config)
    try:
        return opened.store.inbox.counts()["accepted"]
    finally:
        opened.close()


class ThreadRecorder:
    """A vendor adapter noting the thread each of its hooks runs on."""

    def __init__(self) -> None:
        self.threads: list[str] = []

    @hookimpl
    def fmt_match_patient(self, identifiers: Sequence[PatientIdentifier]) -> None:
        del identifiers
        self.threads.append(threading.current_thread().name)


class EventListener:
    """A vendor adapter told of stored events, noting where and what."""

    def __init__(self) -> None:
        self.threads: list[str] = []
        self.events: list[StoredEvent] = []

    @hookimpl
    def fmt_events_stored(self, events: Sequence[StoredEvent]) -> None:
        self.threads.append(threading.current_thread().name)
        self.events.extend(events)


def test_a_lone_senders_messages_after_the_first_are_committed_inline(installation):
    frames = [message(f"M{n}") for n in range(1, 6)]
    answers, inline = one_after_the_other(opener(installation), frames)
    assert answers == [f"AA M{n}" for n in range(1, 6)]
    # The first message has no lone batch before it: it goes through the store thread.
    assert inline == 4


def test_messages_committed_inline_are_in_the_store_once_the_ack_is_out(installation):
    one_after_the_other(opener(installation), [message(f"M{n}") for n in range(1, 6)])
    assert accepted_messages(installation) == 5


def test_a_duplicate_committed_inline_gets_the_first_copys_answer(installation):
    frames = [message("M1"), message("M2"), message("M2")]
    answers, inline = one_after_the_other(opener(installation), frames)
    assert answers == ["AA M1", "AA M2", "AA M2"]
    assert inline == 2
    assert accepted_messages(installation) == 2


def test_messages_handed_over_together_are_committed_together_on_the_store_thread(
    installation,
):
    async def run() -> tuple[list[str], int]:
        receiver = IngestReceiver(
            opener(installation), max_message_bytes=64 * 1024 * 1024
        )
        await receiver.start()
        try:
            for round_ in range(3):
                acks = await asyncio.gather(
                    *(
                        receiver.handle_frame(message(f"R{round_}S{n}"), PEER)
                        for n in range(8)
                    )
                )
        finally:
            await receiver.stop()
        return [code_and_control_id(a) for a in acks], receiver.inline_commits

    answers, inline = asyncio.run(run())
    assert answers == [f"AA R2S{n}" for n in range(8)]
    assert inline == 0
    assert accepted_messages(installation) == 24


def test_a_store_opened_for_one_thread_is_never_committed_inline(installation):
    frames = [message(f"M{n}") for n in range(1, 6)]
    answers, inline = one_after_the_other(
        opener(installation, cross_thread=False), frames
    )
    assert answers == [f"AA M{n}" for n in range(1, 6)]
    assert inline == 0


def test_a_message_over_the_inline_size_goes_to_the_store_thread(installation):
    bigger = message("BIG", results=1_200)
    assert INLINE_MAX_BYTES < len(bigger) < LARGE_MESSAGE_BYTES
    frames = [message("M1"), message("M2"), message("M3"), bigger]
    answers, inline = one_after_the_other(opener(installation), frames)
    assert answers == ["AA M1", "AA M2", "AA M3", "AA BIG"]
    assert inline == 2


def test_an_adapter_matching_patients_keeps_every_commit_on_the_store_thread(
    installation,
):
    vendor = ThreadRecorder()
    frames = [message(f"M{n}") for n in range(1, 6)]
    answers, inline = one_after_the_other(
        opener(installation, plugins=[vendor]), frames
    )
    assert answers == [f"AA M{n}" for n in range(1, 6)]
    assert inline == 0
    assert vendor.threads == [STORE_THREAD] * 5


def test_adapters_hear_of_inline_commits_on_the_store_thread_in_commit_order(
    installation,
):
    listener = EventListener()
    frames = [message(f"M{n}", results=2) for n in range(1, 6)]
    answers, inline = one_after_the_other(
        opener(installation, plugins=[listener]), frames
    )
    assert answers == [f"AA M{n}" for n in range(1, 6)]
    assert inline == 4
    assert set(listener.threads) == {STORE_THREAD}
    assert len(listener.threads) == 5  # once per commit
    ids = [event.event_id for event in listener.events]
    assert len(ids) == 10
    assert ids == sorted(ids)


def test_slow_inline_commits_in_a_row_send_the_next_ones_to_the_store_thread(
    installation,
):
    frames = [message(f"M{n}") for n in range(1, 9)]
    # Every commit counts as slow: the third inline one in a row pauses inlining.
    answers, inline = one_after_the_other(opener(installation), frames, slow_s=0.0)
    assert answers == [f"AA M{n}" for n in range(1, 9)]
    assert inline == INLINE_SLOW_IN_A_ROW


def test_inline_commits_under_the_threshold_go_on_inline(installation):
    frames = [message(f"M{n}") for n in range(1, 9)]
    answers, inline = one_after_the_other(opener(installation), frames, slow_s=60.0)
    assert answers == [f"AA M{n}" for n in range(1, 9)]
    assert inline == 7


def test_inlining_resumes_once_the_pause_after_slow_commits_is_over(installation):
    now = [1000.0]

    async def run() -> list[int]:
        receiver = IngestReceiver(
            opener(installation),
            max_message_bytes=64 * 1024 * 1024,
            clock=lambda: now[0],
        )
        receiver.inline_slow_s = 0.0  # every commit is slow
        await receiver.start()
        counts = []
        try:
            for n in range(1, 7):  # the third inline commit in a row pauses inlining
                await receiver.handle_frame(message(f"A{n}"), PEER)
            counts.append(receiver.inline_commits)
            now[0] += INLINE_PAUSE_S - 1
            await receiver.handle_frame(message("B1"), PEER)
            counts.append(receiver.inline_commits)
            now[0] += 2
            await receiver.handle_frame(message("B2"), PEER)
            counts.append(receiver.inline_commits)
        finally:
            await receiver.stop()
        return counts

    assert asyncio.run(run()) == [3, 3, 4]
