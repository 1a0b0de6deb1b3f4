"""Enhanced-mode acknowledgements (MSH-15/MSH-16) over real MLLP sockets, against a real store.

Each message is followed, on the same connection, by an original-mode sentinel: the frames
received before the sentinel's AA are exactly the ones the message got, in order.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from conftest import PUBLIC_SCENARIO
from hl7apy.parser import parse_message as hl7apy_parse
from mllp_client import Client, connect

from fmt_plugin.ingest import Incoming
from fmt_plugin.installation import open_installation
from fmt_plugin.mllp import MllpServer, MllpSettings
from fmt_plugin.receiver import IngestReceiver
from fmt_plugin.roster import collect_roster
from fmt_plugin.service import installation_ingestor

TEST_TIMEOUT_S = 30.0
INS_KNOWN = "148080905620659"  # GARNIER Roger, in the public scenario roster
INS_UNKNOWN = "170027505699894"  # valid key, not in the roster
INS_AUTHORITY = "ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO"
MSH15_VALUES = ("AL", "NE", "ER", "SU", "", "XX")
MSH16_VALUES = ("AL", "NE", "ER", "SU", "", "ACCEPT")
OUTCOMES = ("AA", "AE", "AR")  # accepted, quarantined, unparseable
ALL = frozenset(OUTCOMES)
#: HL7 table 0155 read for each outcome: when the accept ACK (MSH-15) is due. Empty counts
#: as AL (the accept ACK is what stops a resend).
ACCEPT_DUE = {"AL": ALL, "NE": frozenset(), "ER": {"AE", "AR"}, "SU": {"AA"}, "": ALL}
#: When the application ACK (MSH-16) is due. Empty counts as NE (nobody asked for it).
APPLICATION_DUE = {
    "AL": ALL,
    "NE": frozenset(),
    "ER": {"AE", "AR"},
    "SU": {"AA"},
    "": frozenset(),
}
ACCEPT_CODES = {"AA": "CA", "AE": "CE", "AR": "CR"}
_ids = itertools.count(1)


def expected_codes(msh15: str, msh16: str, outcome: str) -> list[str]:
    """MSA-1 of every frame due, in order: [outcome] in original mode."""
    table = ACCEPT_DUE.keys()
    if not (msh15 or msh16) or msh15 not in table or msh16 not in table:
        return [outcome]  # original mode, also for a value outside table 0155
    codes = []
    if outcome in ACCEPT_DUE[msh15]:
        codes.append(ACCEPT_CODES[outcome])
    if outcome in APPLICATION_DUE[msh16]:
        codes.append(outcome)
    return codes


def control_id(prefix: str) -> str:
    return f"{prefix}{next(_ids):05d}"


def msh(msg_id: str, msh15: str = "", msh16: str = "") -> str:
    return (
        f"MSH|^~\\&|LABO|BIOLAB|FMT|CABINET|20260620101500||ORU^R01^ORU_R01|{msg_id}"
        f"|P|2.5|||{msh15}|{msh16}"
    )


def message(outcome: str, msg_id: str, msh15: str = "", msh16: str = "") -> bytes:
    """A message that ends accepted (AA), quarantined (AE) or unparseable (AR)."""
    header = msh(msg_id, msh15, msh16)
    if outcome == "AR":
        segments = [header, "PID|1", "OB X|bad"]
    else:
        ins = INS_KNOWN if outcome == "AA" else INS_UNKNOWN
        segments = [
            header,
            f"PID|1||{ins}^^^{INS_AUTHORITY}^INS||GARNIER^ROGER||19480808|M",
            "OBR|1|CMD42|RES42|1577^HbA1c^NABM|||202509160800",
            "OBX|1|NM|4548-4^HbA1c^LN||7.4|%|||||F|||202509160800",
        ]
    return ("\r".join(segments) + "\r").encode()


@dataclass(frozen=True)
class Ack:
    """The fields of one received ACK frame the tests look at."""

    msh10: str
    msh15: str
    msh16: str
    code: str
    acked: str

    @classmethod
    def parse(cls, payload: bytes) -> Ack:
        """Read by hl7apy, so that an ACK it could not parse fails the test."""
        parsed = hl7apy_parse(payload.decode(), find_groups=False)
        msh, msa = parsed.msh, parsed.msa
        return cls(
            msh.msh_10.value,
            msh.msh_15.value,
            msh.msh_16.value,
            msa.msa_1.value,
            msa.msa_2.value,
        )


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An installation of the public scenario with its roster synchronised."""
    from fmt_plugin.scaffold import InitOptions, init_installation

    path = init_installation(
        InitOptions(
            directory=tmp_path_factory.mktemp("enhanced") / "inst",
            roster=PUBLIC_SCENARIO / "roster.csv",
        ),
        actor="test",
    )
    with open_installation(path) as opened:
        roster = collect_roster(opened.pm, date(2026, 6, 20))
        opened.store.sync_roster(roster.patients, actor="test")
    return path


class AckClient(Client):
    """A client that also reads every ACK a message gets."""

    async def answers(self, payload: bytes) -> list[Ack]:
        """Every ACK `payload` gets, up to the AA of an original-mode sentinel sent after."""
        sentinel = control_id("S")
        await self.send(payload, message("AA", sentinel))
        acks = []
        while (ack := Ack.parse(await self.recv())).acked != sentinel:
            acks.append(ack)
        assert ack.code == "AA"
        return acks


@asynccontextmanager
async def serving(config: Path) -> AsyncIterator[Client]:
    """The service's receiver and listener on a free port, and a client connected to it."""

    def open_ingestor():
        installation = open_installation(config)
        return installation_ingestor(installation), installation.close

    receiver = IngestReceiver(open_ingestor, max_message_bytes=1 << 20)
    await receiver.start()
    try:
        settings = MllpSettings(host="127.0.0.1", port=0)
        async with (
            MllpServer(receiver, settings) as server,
            connect(server, AckClient) as client,
        ):
            yield client
    finally:
        await receiver.stop()


def run(config: Path, scenario):
    async def bounded():
        async with asyncio.timeout(TEST_TIMEOUT_S), serving(config) as client:
            return await scenario(client)

    return asyncio.run(bounded())


@pytest.mark.parametrize("outcome", OUTCOMES)
@pytest.mark.parametrize("msh16", MSH16_VALUES)
@pytest.mark.parametrize("msh15", MSH15_VALUES)
def test_each_msh15_msh16_and_outcome_gets_exactly_the_acks_due(
    config, msh15, msh16, outcome
):
    """The accept then the application ACK as table 0155 asks; one ACK in original mode."""
    msg_id = control_id("M")

    async def scenario(client):
        return await client.answers(message(outcome, msg_id, msh15, msh16))

    acks = run(config, scenario)
    assert [ack.code for ack in acks] == expected_codes(msh15, msh16, outcome)
    assert all(ack.acked == msg_id for ack in acks)
    assert len({ack.msh10 for ack in acks} | {msg_id}) == len(acks) + 1
    assert all((ack.msh15, ack.msh16) == ("", "") for ack in acks)


def test_both_acks_come_in_order_with_their_own_control_ids(config):
    """AL/AL: CA then AA, two distinct MSH-10s, both MSA-2 = the message's MSH-10."""
    msg_id = control_id("B")

    async def scenario(client):
        return await client.answers(message("AA", msg_id, "AL", "AL"))

    accept, application = run(config, scenario)
    assert (accept.code, application.code) == ("CA", "AA")
    assert accept.acked == application.acked == msg_id
    assert accept.msh10 != application.msh10


def test_an_application_ack_only_sender_hears_of_its_quarantined_message(config):
    """NE/AL: a quarantined message gets its AE application ACK, not silence."""
    msg_id = control_id("Q")

    async def scenario(client):
        return await client.answers(message("AE", msg_id, "NE", "AL"))

    (ack,) = run(config, scenario)
    assert (ack.code, ack.acked) == ("AE", msg_id)


@pytest.mark.parametrize("msh15", ["XX", "ACCEPT"])
def test_an_unparseable_message_with_msh15_outside_table_0155_gets_its_ar(
    config, msh15
):
    """An MSH-15 outside AL/ER/SU/NE on an unparseable message: original mode, AR."""
    msg_id = control_id("U")

    async def scenario(client):
        return await client.answers(message("AR", msg_id, msh15, "NE"))

    (ack,) = run(config, scenario)
    assert (ack.code, ack.acked) == ("AR", msg_id)


@pytest.mark.parametrize(
    ("msh15", "msh16", "outcome"),
    [("AL", "AL", "AA"), ("NE", "AL", "AE"), ("ER", "AL", "AR"), ("", "", "AE")],
)
def test_a_duplicate_is_answered_with_the_acks_of_the_first_copy(
    config, msh15, msh16, outcome
):
    """A message sent twice gets the same ACK codes the second time, in either mode."""
    raw = message(outcome, control_id("D"), msh15, msh16)

    async def scenario(client):
        return await client.answers(raw), await client.answers(raw)

    first, again = run(config, scenario)
    assert [ack.code for ack in again] == [ack.code for ack in first]
    assert [ack.code for ack in first] == expected_codes(msh15, msh16, outcome)


def test_an_import_builds_no_ack_even_when_enhanced_mode_asks_for_both(config):
    """`import` (acknowledge=False) answers nobody, whatever MSH-15/16 say."""
    with open_installation(config) as opened:
        ingestor = installation_ingestor(opened)
        (outcome,) = ingestor.ingest(
            [Incoming(message("AA", control_id("I"), "AL", "AL"), "import")],
            acknowledge=False,
        )
    assert outcome.ack_code == "AA"
    assert outcome.acks == ()
