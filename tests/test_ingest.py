"""The ingest pipeline on a real encrypted store: ACK codes, dedup, quarantine, replay, events."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hl7apy.parser import parse_message as hl7apy_parse

from fmt_plugin import hookimpl
from fmt_plugin.clinical import EventState
from fmt_plugin.evaluation import evaluate_practice, select_rule_pack
from fmt_plugin.ingest import Disposition, Incoming, Ingestor, IngestSettings
from fmt_plugin.installation import Installation, open_installation
from fmt_plugin.model import EventKind, Patient, StoredEvent
from fmt_plugin.roster import collect_roster

INS_Q06 = "148080905620659"  # GARNIER Roger, diabetic, in the public scenario roster
INS_UNKNOWN = "170027505699894"  # valid key, not in the roster
FIXED_NOW = datetime(2026, 6, 20, 8, 30, tzinfo=UTC)


def msh(control_id: str, kind: str = "ORU^R01^ORU_R01", *, tail: str = "") -> str:
    return f"MSH|^~\\&|LABO|BIOLAB|FMT|CABINET|20260620101500||{kind}|{control_id}|P|2.5{tail}"


def pid(ins: str | None = INS_Q06) -> str:
    ident = f"{ins}^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS~" if ins else ""
    return (
        f"PID|1||{ident}Q06^^^CABINET&1.2.250.1.999.1&ISO^PI||GARNIER^ROGER||19480808|M"
    )


def oru(
    control_id: str = "C1",
    *,
    ins: str | None = INS_Q06,
    status: str = "F",
    value: str = "7.4",
    when: str = "202509160800",
    header_tail: str = "",
) -> bytes:
    segments = [
        msh(control_id, tail=header_tail),
        pid(ins),
        f"OBR|1|CMD42|RES42|1577^HbA1c^NABM|||{when}",
        f"OBX|1|NM|4548-4^HbA1c^LN||{value}|%|||||{status}|||{when}",
    ]
    return ("\r".join(segments) + "\r").encode()


def vxu(control_id: str = "V1", *, action: str = "A", when: str = "20260105") -> bytes:
    segments = [
        msh(control_id, "VXU^V04^VXU_V04"),
        pid(),
        "ORC|RE||IMM41",
        f"RXA|0|1|{when}||168^Influenza adjuvanted^CVX|0.5|mL||00|||||||||||CP|{action}",
    ]
    return ("\r".join(segments) + "\r").encode()


class EventRecorder:
    """A vendor adapter that records what `fmt_events_stored` tells it."""

    def __init__(self) -> None:
        self.batches: list[list[StoredEvent]] = []

    @hookimpl
    def fmt_events_stored(self, events: list[StoredEvent]) -> None:
        self.batches.append(list(events))


@pytest.fixture
def practice(installation: Path) -> Iterator[Installation]:
    """The public scenario's installation with its roster synchronised."""
    with open_installation(installation) as opened:
        roster = collect_roster(opened.pm, date(2026, 6, 20))
        opened.store.sync_roster(roster.patients, actor="test")
        yield opened


@pytest.fixture
def recorder(practice: Installation) -> EventRecorder:
    found = EventRecorder()
    practice.pm.register(found, name="recorder")
    return found


def ingestor(practice: Installation, **settings: object) -> Ingestor:
    return Ingestor(
        practice.store,
        practice.pm,
        IngestSettings(**settings),  # type: ignore[arg-type]
        clock=lambda: FIXED_NOW,
    )


def ingest_one(practice: Installation, raw: bytes, **settings: object):
    (outcome,) = ingestor(practice, **settings).ingest([Incoming(raw, "mllp")])
    return outcome


def the_ack(outcome) -> bytes:
    """The one ACK an outcome carries (original mode, or enhanced mode with one due)."""
    (payload,) = outcome.acks
    return payload


def ack_segments(payload: bytes) -> dict[str, list[str]]:
    lines = [s for s in payload.decode().split("\r") if s]
    return {line[:3]: line.split("|") for line in lines}


def test_a_result_for_a_known_patient_is_accepted_with_aa_echoing_msh10(practice):
    """A result for a known patient is accepted with AA echoing MSH-10."""
    outcome = ingest_one(practice, oru("H42"))
    assert outcome.disposition is Disposition.ACCEPTED
    assert outcome.patient_id == "Q06"
    msa = ack_segments(the_ack(outcome))["MSA"]
    assert msa[1:3] == ["AA", "H42"]


def test_the_ack_swaps_sender_and_receiver_and_echoes_version(practice):
    """The ACK swaps sender and receiver and echoes version."""
    header = ack_segments(the_ack(ingest_one(practice, oru("H42"))))["MSH"]
    assert header[2:6] == ["FMT", "CABINET", "LABO", "BIOLAB"]
    assert header[8] == "ACK^R01^ACK"
    assert header[10:12] == ["P", "2.5"]


def test_every_ack_parses_with_hl7apy(practice):
    """Every ACK parses with hl7apy."""
    for raw in (oru("P1"), oru("P2", ins=INS_UNKNOWN), b"garbage"):
        payload = the_ack(ingest_one(practice, raw))
        parsed = hl7apy_parse(payload.decode().replace("\r", "\r"), find_groups=False)
        assert parsed.msa.msa_1.value in ("AA", "AE", "AR")


def test_the_event_is_stored_encrypted_and_readable_for_its_patient(practice):
    """The event is stored encrypted and readable for its patient."""
    ingest_one(practice, oru("H42"))
    (stored,) = practice.store.inbox.events_of("Q06")
    assert stored.event.kind is EventKind.LAB_RESULT
    assert (stored.event.coding.system, stored.event.coding.code) == ("LN", "4548-4")
    assert stored.event.date == date(2025, 9, 16)
    assert (stored.event.value, stored.event.unit) == ("7.4", "%")
    assert stored.event.order is not None
    assert (stored.event.order.system, stored.event.order.code) == ("NABM", "1577")


def test_stored_events_fire_fmt_events_stored_with_internal_ids(practice, recorder):
    """Stored events are announced through `fmt_events_stored`, with internal ids only."""
    outcome = ingest_one(practice, oru("H42"))
    assert recorder.batches == [list(outcome.events)]
    assert recorder.batches[0][0].patient_id == "Q06"


def test_a_vaccination_is_stored_from_rxa(practice):
    """A vaccination is stored from RXA."""
    outcome = ingest_one(practice, vxu())
    assert outcome.ack_code == "AA"
    (stored,) = practice.store.inbox.events_of("Q06")
    assert stored.event.kind is EventKind.VACCINATION
    assert (stored.event.coding.code, stored.event.status) == ("168", "CP")
    assert stored.event.date == date(2026, 1, 5)


def test_a_duplicate_is_answered_aa_again_and_stored_once(practice):
    """A duplicate is answered AA again and stored once."""
    first = ingest_one(practice, oru("H42"))
    again = ingest_one(practice, oru("H42"))
    assert again.disposition is Disposition.DUPLICATE
    assert ack_segments(the_ack(again))["MSA"][1:3] == ["AA", "H42"]
    assert again.message_id == first.message_id
    assert len(practice.store.inbox.events_of("Q06")) == 1
    assert practice.store.inbox.counts() == {
        "accepted": 1,
        "quarantined": 0,
        "discarded": 0,
        "duplicates": 1,
    }


def test_a_duplicate_with_other_line_endings_is_still_a_duplicate(practice):
    """A duplicate with other line endings is still a duplicate."""
    ingest_one(practice, oru("H42"))
    again = ingest_one(practice, oru("H42").replace(b"\r", b"\r\n"))
    assert again.disposition is Disposition.DUPLICATE


def test_a_duplicate_inside_one_batch_is_stored_once(practice):
    """A duplicate inside one batch is stored once."""
    outcomes = ingestor(practice).ingest(
        [Incoming(oru("H42"), "mllp"), Incoming(oru("H42"), "mllp")]
    )
    assert [o.disposition for o in outcomes] == [
        Disposition.ACCEPTED,
        Disposition.DUPLICATE,
    ]


def test_the_same_control_id_with_other_content_is_a_new_message(practice):
    """The same control id with other content is a new message."""
    ingest_one(practice, oru("H42", value="7.4"))
    other = ingest_one(practice, oru("H42", value="6.1"))
    assert other.disposition is Disposition.ACCEPTED


def test_an_unknown_patient_is_quarantined_with_ae_and_ans_902(practice):
    """An unknown patient is quarantined with AE and ANS 902."""
    outcome = ingest_one(practice, oru("H47", ins=INS_UNKNOWN))
    assert outcome.disposition is Disposition.QUARANTINED
    segments = ack_segments(the_ack(outcome))
    assert segments["MSA"][1:3] == ["AE", "H47"]
    err = segments["ERR"]
    assert err[2] == "PID^1^3"
    assert err[3].startswith("207^")
    assert err[5].startswith("902^")
    assert practice.store.inbox.events_of("Q06") == []


def test_a_message_without_ins_gets_ans_903(practice):
    """A message without INS gets ANS 903."""
    err = ack_segments(the_ack(ingest_one(practice, oru("H48", ins=None))))["ERR"]
    assert err[5].startswith("903^")


def test_a_malformed_ins_gets_ans_905(practice):
    """A malformed INS gets ANS 905."""
    err = ack_segments(
        the_ack(ingest_one(practice, oru("H49", ins="148080905620658")))
    )["ERR"]
    assert err[5].startswith("905^")


def test_a_missing_result_status_is_ae_101_located_at_obx_11(practice):
    """A missing result status is AE 101 located at OBX-11."""
    outcome = ingest_one(practice, oru("H50", status=""))
    segments = ack_segments(the_ack(outcome))
    assert segments["MSA"][1] == "AE"
    assert segments["ERR"][2] == "OBX^1^11"
    assert segments["ERR"][3].startswith("101^")


def test_an_invalid_date_is_ae_102(practice):
    """An invalid date is AE 102."""
    outcome = ingest_one(practice, oru("H51", when="20251340"))
    assert ack_segments(the_ack(outcome))["ERR"][3].startswith("102^")


def test_an_unsupported_message_type_is_ar_200_and_kept(practice):
    """An unsupported message type is AR 200 and kept."""
    raw = (msh("A1", "ADT^A01^ADT_A01") + "\r" + pid() + "\r").encode()
    outcome = ingest_one(practice, raw)
    segments = ack_segments(the_ack(outcome))
    assert segments["MSA"][1:3] == ["AR", "A1"]
    assert segments["ERR"][3].startswith("200^")
    assert practice.store.inbox.quarantined()[0].message_id == outcome.message_id


def test_an_unsupported_version_is_ar_203_by_default(practice):
    """An unsupported version is AR 203 by default."""
    raw = oru("H52").replace(b"|P|2.5", b"|P|2.1")
    segments = ack_segments(the_ack(ingest_one(practice, raw)))
    assert segments["MSA"][1] == "AR"
    assert segments["ERR"][2] == "MSH^1^12"
    assert segments["ERR"][3].startswith("203^")


def test_an_unsupported_version_can_be_answered_ae_as_ans_does(practice):
    """An unsupported version can be answered AE as ANS does."""
    raw = oru("H52").replace(b"|P|2.5", b"|P|2.1")
    outcome = ingest_one(practice, raw, unsupported_version_ack="AE")
    assert ack_segments(the_ack(outcome))["MSA"][1] == "AE"


def test_unparseable_bytes_are_ar_and_kept_in_quarantine(practice):
    """Unparseable bytes are AR and kept in quarantine."""
    outcome = ingest_one(practice, b"this is not HL7")
    assert outcome.ack_code == "AR"
    assert outcome.disposition is Disposition.QUARANTINED
    assert practice.store.inbox.raw(outcome.message_id) == b"this is not HL7"


def test_a_broken_message_still_gets_its_msh10_echoed(practice):
    """A broken message still gets its MSH-10 echoed."""
    raw = b"MSH|^~\\&|LABO|BIOLAB|FMT|CABINET|2026||ORU^R01|BROKEN7|P|2.5\rPID|1\rOB X|bad"
    segments = ack_segments(the_ack(ingest_one(practice, raw)))
    assert segments["MSA"][1:3] == ["AR", "BROKEN7"]


def test_enhanced_mode_answers_ca_after_commit(practice):
    """Enhanced mode answers CA after commit."""
    outcome = ingest_one(practice, oru("E1", header_tail="|||AL|NE"))
    assert ack_segments(the_ack(outcome))["MSA"][1:3] == ["CA", "E1"]


def test_enhanced_mode_errors_are_ce(practice):
    """Enhanced mode errors are CE."""
    outcome = ingest_one(practice, oru("E2", ins=INS_UNKNOWN, header_tail="|||AL|NE"))
    assert ack_segments(the_ack(outcome))["MSA"][1] == "CE"


def test_enhanced_mode_with_msh15_and_msh16_ne_gets_no_answer(practice):
    """A sender in enhanced mode asking never to be answered (MSH-15/16 NE) gets no ACK."""
    outcome = ingest_one(practice, oru("E3", header_tail="|||NE|NE"))
    assert outcome.acks == ()
    assert outcome.disposition is Disposition.ACCEPTED


def test_a_corrected_result_replaces_the_earlier_one(practice):
    """A corrected result replaces the earlier one."""
    ingest_one(practice, oru("R1", value="7.4"))
    ingest_one(practice, oru("R2", value="6.9", status="C"))
    (current,) = practice.store.inbox.events_of("Q06")
    assert (current.event.value, current.event.status) == ("6.9", "C")
    first_message = practice.store.inbox.events_of_message(1)
    assert first_message[0].state is EventState.SUPERSEDED


def test_a_result_marked_x_withdraws_the_earlier_one(practice):
    """A result marked X withdraws the earlier one."""
    ingest_one(practice, oru("R1"))
    ingest_one(practice, oru("R2", status="X"))
    assert practice.store.inbox.events_of("Q06") == []


def test_a_deleted_vaccination_is_withdrawn(practice):
    """A deleted vaccination is withdrawn."""
    ingest_one(practice, vxu("V1", action="A"))
    ingest_one(practice, vxu("V2", action="D"))
    assert practice.store.inbox.events_of("Q06") == []


def test_a_latin1_message_is_accepted(practice):
    """A Latin-1 message is accepted."""
    raw = oru("L1", header_tail="||||||8859/1").replace(
        b"HbA1c", "Hémoglobine".encode("latin-1")
    )
    outcome = ingest_one(practice, raw)
    assert outcome.ack_code == "AA"
    (stored,) = practice.store.inbox.events_of("Q06")
    assert stored.event.coding.label == "Hémoglobine"


def test_replay_integrates_a_message_once_its_patient_is_known(practice):
    """Replay integrates a message once its patient is known."""
    raw = oru("H47", ins=INS_UNKNOWN)
    quarantined = ingest_one(practice, raw)
    newcomer = Patient(patient_id="Q99", source="test", ins=INS_UNKNOWN)
    patients = [*list(practice.store.iter_patients()), newcomer]
    practice.store.sync_roster(patients, actor="test")
    (result,) = ingestor(practice).replay([quarantined.message_id], actor="test")
    assert result.accepted
    assert result.patient_id == "Q99"
    assert practice.store.inbox.quarantined() == []
    assert len(practice.store.inbox.events_of("Q99")) == 1


def test_replay_of_a_still_unknown_patient_keeps_it_in_quarantine(practice):
    """Replay of a still unknown patient keeps it in quarantine."""
    quarantined = ingest_one(practice, oru("H47", ins=INS_UNKNOWN))
    (result,) = ingestor(practice).replay([quarantined.message_id], actor="test")
    assert not result.accepted
    (record,) = practice.store.inbox.quarantined()
    assert record.replayed_at is not None


def test_replay_is_audited(practice):
    """Replay is audited."""
    quarantined = ingest_one(practice, oru("H47", ins=INS_UNKNOWN))
    ingestor(practice).replay([quarantined.message_id], actor="test")
    assert practice.store.verify_audit().ok


class QuirkFixer:
    """A vendor adapter rewriting a lab's local system name before parsing."""

    @hookimpl
    def fmt_hl7_received(self, message: str, sender: str) -> str | None:
        if sender.startswith("LABO"):
            return message.replace("^HbA1c^LOCAL", "^HbA1c^LN")
        return None


def test_the_received_hook_rewrites_before_parsing_and_the_original_is_kept(practice):
    """The received hook rewrites before parsing and the original is kept."""
    practice.pm.register(QuirkFixer(), name="quirks")
    raw = oru("Q1").replace(b"^HbA1c^LN", b"^HbA1c^LOCAL")
    outcome = ingest_one(practice, raw)
    (stored,) = practice.store.inbox.events_of("Q06")
    assert stored.event.coding.system == "LN"
    assert practice.store.inbox.raw(outcome.message_id) == raw


def test_hl7_results_count_as_evidence_in_the_evaluation(practice):
    """HL7 results count as evidence in the evaluation."""
    pack = select_rule_pack(practice.config, practice.pm)
    before = evaluate_practice(
        practice.store, practice.pm, pack, date(2026, 6, 20), patient_ids=["Q06"]
    )
    ingest_one(practice, oru("H42", when="202606010800"))
    after = evaluate_practice(
        practice.store, practice.pm, pack, date(2026, 6, 20), patient_ids=["Q06"]
    )
    hl7_evidence = [
        e
        for status in after.evaluations[0].statuses.values()
        for e in status.evidence
        if e.source.value == "hl7"
    ]
    assert hl7_evidence
    assert before.evaluations[0].statuses != after.evaluations[0].statuses


def test_quarantine_logs_name_the_message_not_the_patient(practice, caplog):
    """Quarantine and accept logs name the message (MSH-10), never the patient or the result."""
    caplog.set_level(logging.DEBUG, logger="fmt_plugin")
    ingest_one(practice, oru("H47", ins=INS_UNKNOWN))
    ingest_one(practice, oru("H42"))
    text = caplog.text
    assert "H47" in text
    for secret in (INS_UNKNOWN, INS_Q06, "GARNIER", "ROGER", "7.4", "4548-4"):
        assert secret not in text


def test_an_odd_message_type_is_not_quoted_in_the_reason(practice):
    """A message type that is not an HL7 code (here a name) never reaches the reason or ACK."""
    raw = (msh("T1", "DUPONT JEAN^A01") + "\r" + pid() + "\r").encode()
    outcome = ingest_one(practice, raw)
    assert outcome.ack_code == "AR"
    assert "DUPONT" not in outcome.rejection.reason
    assert b"DUPONT JEAN" not in the_ack(outcome).split(b"\r", 1)[1]
