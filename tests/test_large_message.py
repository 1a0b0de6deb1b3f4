"""A large message (a year of a lab's results in one ORU) never stands before another sender's ACK."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from conftest import PUBLIC_SCENARIO, cli
from service_process import Server, start_server

from fmt_plugin.hl7.er7 import parse_message
from fmt_plugin.ingest import Ingestor
from fmt_plugin.installation import open_installation
from fmt_plugin.mllp.framing import END_BLOCK, frame
from fmt_plugin.mllp.server import PeerInfo
from fmt_plugin.receiver import LARGE_MESSAGE_BYTES, IngestReceiver
from fmt_plugin.service import installation_ingestor

HEADER = (
    "MSH|^~\\&|LABO|BIOLAB|FMT|CABINET|20260620101500||ORU^R01^ORU_R01|{control}|P|2.5"
    "|||AL|NE|FRA|UNICODE UTF-8\r"
    "PID|1||271020905620548^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS"
    "~Q05^^^CABINET&1.2.250.1.999.1&ISO^PI||ROLLAND^SOPHIE^^^^^L||19710214|F\r"
    "OBR|1|CMD39|RES39|^BILAN^L|||202401100800\r"
)
OBX = "OBX|{n}|NM|1558-6^Glucose a jeun^LN|{n}|1.01|g/L|||||F|||202401100800\r"
PEER = PeerInfo("127.0.0.1", 40000)
#: Results in the large message: parsing and storing them takes a second or more.
LARGE_RESULTS = 30_000


def message(control: str, results: int) -> bytes:
    body = "".join(OBX.format(n=n) for n in range(1, results + 1))
    return (HEADER.format(control=control) + body).encode()


@pytest.fixture
def installation(tmp_path: Path) -> Path:
    """A practice made by `init` on the public scenario's roster; its fmt.toml."""
    init = cli(tmp_path, "init", "inst", "--roster", PUBLIC_SCENARIO / "roster.csv")
    assert init.returncode == 0, init.stderr
    return tmp_path / "inst" / "fmt.toml"


@pytest.fixture
def server(installation: Path, tmp_path: Path) -> Iterator[Server]:
    running = start_server(installation, tmp_path)
    yield running
    running.stop()


def opened_ingestor(config: Path) -> tuple[Ingestor, Callable[[], None]]:
    installation = open_installation(config)
    return installation_ingestor(installation), installation.close


def acknowledged(acks: Sequence[bytes]) -> str:
    (ack,) = acks
    msa = parse_message(ack).first("MSA")
    assert msa is not None
    return f"{msa.value(1)} {msa.value(2)}"


def read_ack(client: socket.socket) -> str:
    answer = b""
    while not answer.endswith(END_BLOCK):
        chunk = client.recv(65536)
        assert chunk, "the service closed the connection without an ACK"
        answer += chunk
    msa = parse_message(answer[1 : -len(END_BLOCK)]).first("MSA")
    assert msa is not None
    return f"{msa.value(1)} {msa.value(2)}"


def test_the_large_message_of_the_test_is_large_for_the_receiver():
    assert len(message("L1", LARGE_RESULTS)) >= LARGE_MESSAGE_BYTES


def test_a_small_message_is_acknowledged_while_a_large_one_received_before_is_parsed(
    installation,
):
    """The receiver the service runs, on a real store: the small frame comes second."""
    asyncio.run(small_after_large(installation))


async def small_after_large(installation: Path) -> None:
    receiver = IngestReceiver(
        lambda: opened_ingestor(installation), max_message_bytes=64 * 1024 * 1024
    )
    await receiver.start()
    try:
        large = asyncio.create_task(
            receiver.handle_frame(message("L1", LARGE_RESULTS), PEER)
        )
        await asyncio.sleep(0)  # the large frame is handed over first
        small = await receiver.handle_frame(message("S1", 1), PEER)
        assert not large.done()  # still being worked on: it did not hold S1 up
        assert acknowledged(small) == "CA S1"
        assert acknowledged(await large) == "CA L1"
    finally:
        await receiver.stop()


def test_messages_after_a_large_one_on_its_own_connection_keep_their_order(server):
    with socket.create_connection((server.host, server.port), timeout=120) as client:
        client.sendall(frame(message("L2", LARGE_RESULTS)) + frame(message("S2", 1)))
        assert read_ack(client) == "CA L2"
        assert read_ack(client) == "CA S2"
