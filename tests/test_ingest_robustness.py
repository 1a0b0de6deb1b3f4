"""Third-party and malformed messages through the whole pipeline: always an ACK or NAK, never a crash."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from conftest import PUBLIC_SCENARIO
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fmt_plugin.hl7.ack import header_of_raw
from fmt_plugin.hl7.batch import split_messages
from fmt_plugin.ingest import Disposition, Incoming, Ingestor
from fmt_plugin.installation import Installation, open_installation
from fmt_plugin.roster import collect_roster
from fmt_plugin.storage.inbox import normalized_content

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "hl7-corpus"
SCENARIO_MESSAGES = sorted((PUBLIC_SCENARIO / "messages").glob("*.hl7"))
MSH10 = re.compile(rb"^MSH(.)(?:[^\r\n]*?\1){8}([^\r\n|]*)")


@pytest.fixture(scope="module")
def practice(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installation]:
    from fmt_plugin.scaffold import InitOptions, init_installation

    config = init_installation(
        InitOptions(
            directory=tmp_path_factory.mktemp("robust") / "inst",
            roster=PUBLIC_SCENARIO / "roster.csv",
        ),
        actor="test",
    )
    with open_installation(config) as opened:
        roster = collect_roster(opened.pm, date(2026, 6, 20))
        opened.store.sync_roster(roster.patients, actor="test")
        yield opened


def ingestor(practice: Installation) -> Ingestor:
    return Ingestor(
        practice.store, practice.pm, clock=lambda: datetime(2026, 6, 20, tzinfo=UTC)
    )


def msa(payload: bytes) -> list[bytes]:
    (line,) = [s for s in payload.split(b"\r") if s.startswith(b"MSA")]
    return line.split(line[3:4])


def corpus_messages() -> list[tuple[str, bytes]]:
    if not CORPUS.is_dir():
        return []
    found = []
    for path in sorted(CORPUS.rglob("*.hl7")):
        for raw in split_messages(path.read_bytes()):
            found.append((f"{path.relative_to(CORPUS)}:{raw.line}", raw.data))
    return found


CORPUS_MESSAGES = corpus_messages()


@pytest.mark.skipif(not CORPUS_MESSAGES, reason=f"third-party corpus absent: {CORPUS}")
def test_every_corpus_message_gets_an_ack_echoing_its_control_id(practice):
    """Each of the 400+ third-party messages is answered, MSA-2 = its MSH-10 when it has one."""
    outcomes = ingestor(practice).ingest(
        [Incoming(raw, "import") for _, raw in CORPUS_MESSAGES]
    )
    for (where, raw), outcome in zip(CORPUS_MESSAGES, outcomes, strict=True):
        if not outcome.acks:
            # Only a sender in enhanced mode may ask for no ACK at all (MSH-15 and MSH-16
            # NE, or ER/SU against the outcome).
            assert header_of_raw(raw).enhanced, where
            continue
        for payload in outcome.acks:
            fields = msa(payload)
            assert fields[1] in (b"AA", b"AE", b"AR", b"CA", b"CE", b"CR"), where
            header = MSH10.match(raw)
            if header and outcome.ack_code != "AR":
                assert fields[2] == header.group(2), where


def asks_for_an_application_ack_only(raw: bytes) -> bool:
    """MSH-15 NE and MSH-16 AL: the sender waits for the application ACK alone."""
    header = header_of_raw(raw)
    return (header.accept_ack_type, header.application_ack_type) == ("NE", "AL")


CORPUS_APPLICATION_ONLY = [
    (where, raw)
    for where, raw in CORPUS_MESSAGES
    if asks_for_an_application_ack_only(raw)
]


@pytest.mark.skipif(not CORPUS_MESSAGES, reason=f"third-party corpus absent: {CORPUS}")
def test_corpus_messages_asking_only_for_an_application_ack_get_it(practice):
    """The seven corpus messages with MSH-15 NE and MSH-16 AL each get one AA/AE/AR ACK."""
    assert len(CORPUS_APPLICATION_ONLY) == 7
    outcomes = ingestor(practice).ingest(
        [Incoming(raw, "mllp") for _, raw in CORPUS_APPLICATION_ONLY]
    )
    for (where, raw), outcome in zip(CORPUS_APPLICATION_ONLY, outcomes, strict=True):
        (payload,) = outcome.acks
        fields = msa(payload)
        assert fields[1].decode() == outcome.ack_code, where
        assert fields[2] == header_of_raw(raw).control_id.encode(), where


@pytest.mark.skipif(not CORPUS_MESSAGES, reason=f"third-party corpus absent: {CORPUS}")
def test_no_corpus_message_is_lost(practice):
    """Every corpus message is either stored as accepted or kept in quarantine."""
    inbox = practice.store.inbox
    outcomes = ingestor(practice).ingest(
        [Incoming(raw, "import") for _, raw in CORPUS_MESSAGES]
    )
    for (where, raw), outcome in zip(CORPUS_MESSAGES, outcomes, strict=True):
        assert outcome.message_id is not None, where
        # A duplicate points to the copy stored first: equal up to line endings.
        stored = inbox.raw(outcome.message_id)
        assert normalized_content(stored) == normalized_content(raw), where
        record = inbox.get(outcome.message_id)
        expected = "accepted" if outcome.ack_code == "AA" else "quarantined"
        if outcome.disposition is Disposition.DUPLICATE:
            expected = record.state if record else "?"
        assert record is not None, where
        assert record.state == expected, where


def mutations() -> st.SearchStrategy[bytes]:
    """Scenario messages truncated, with bytes flipped, separators or escapes inserted."""
    originals = [path.read_bytes() for path in SCENARIO_MESSAGES]
    noise = st.sampled_from(
        [
            b"|",
            b"^",
            b"~",
            b"\\",
            b"&",
            b"\r",
            b"\n",
            b"\x0b",
            b"\x1c",
            b"\xff",
            b"\\X",
            b"\\F\\",
        ]
    )

    @st.composite
    def mutate(draw: st.DrawFn) -> bytes:
        data = bytearray(draw(st.sampled_from(originals)))
        for _ in range(draw(st.integers(1, 6))):
            kind = draw(st.sampled_from(["cut", "flip", "insert", "delete"]))
            at = draw(st.integers(0, max(len(data) - 1, 0)))
            if kind == "cut":
                del data[at:]
            elif kind == "flip" and data:
                data[at] = draw(st.integers(0, 255))
            elif kind == "insert":
                data[at:at] = draw(noise)
            elif data:
                del data[at : at + draw(st.integers(1, 20))]
        return bytes(data)

    return st.one_of(mutate(), st.binary(max_size=300))


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(raw=mutations())
def test_a_malformed_message_always_gets_an_ack_never_a_crash(practice, raw):
    """Whatever the bytes, the pipeline answers AA, AE or AR (or CA/CE/CR) and keeps them."""
    (outcome,) = ingestor(practice).ingest([Incoming(raw, "mllp")])
    assert outcome.disposition in set(Disposition)
    for payload in outcome.acks:
        assert msa(payload)[1] in (b"AA", b"AE", b"AR", b"CA", b"CE", b"CR")
    assert outcome.message_id is not None
