"""Tests of the cut of files and streams into messages (`fmt_plugin.hl7.batch`)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fmt_plugin.hl7.batch import RawMessage, split_messages
from fmt_plugin.hl7.er7 import parse_message

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "hl7-corpus"


def msh(control_id: str) -> bytes:
    return (
        b"MSH|^~\\&|LABO|BIOLAB|FMT|CABINET|20260620101500||ORU^R01^ORU_R01|"
        + control_id.encode()
        + b"|P|2.5"
    )


PID = b"PID|1||148080905620659^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS"
OBX = b"OBX|1|NM|4548-4^HbA1c^LN||7.4|%|||||F"


def one(control_id: str, separator: bytes = b"\r") -> bytes:
    """A three-segment message, each segment followed by `separator`."""
    return separator.join([msh(control_id), PID, OBX]) + separator


def control_ids(messages: list[RawMessage]) -> list[str]:
    return [parse_message(message.data).control_id for message in messages]


def test_single_message_is_yielded_unchanged():
    """A file of one message gives that message, bytes unchanged, at line 1."""
    data = one("A")
    assert list(split_messages(data)) == [RawMessage(data, 1)]


def test_each_msh_starts_a_new_message():
    """Messages follow each other without any envelope."""
    messages = list(split_messages(one("A") + one("B") + one("C")))
    assert control_ids(messages) == ["A", "B", "C"]


def test_batch_envelope_segments_are_dropped():
    """FHS/BHS … BTS/FTS wrap messages; they are not part of any."""
    data = (
        b"FHS|^~\\&|LABO|||||20260620\r"
        b"BHS|^~\\&|LABO|||||20260620\r" + one("A") + one("B") + b"BTS|2\rFTS|1\r"
    )
    messages = list(split_messages(data))
    assert control_ids(messages) == ["A", "B"]
    assert messages[1].data == one("B")


def test_mllp_frames_are_split():
    """Several MLLP frames (`0x0B` … `0x1C 0x0D`) give one message each, framing removed."""
    data = b"".join(b"\x0b" + one(c) + b"\x1c\r" for c in "ABC")
    messages = list(split_messages(data))
    assert control_ids(messages) == ["A", "B", "C"]
    assert messages[0].data == one("A")


def test_mllp_frame_boundary_ends_a_message_without_a_line_break():
    """`…OBX|…\\x1c\\r\\x0bMSH…`: the frame end closes the message even with no CR before it."""
    data = b"\x0b" + one("A")[:-1] + b"\x1c\x0b" + one("B") + b"\x1c\r"
    assert control_ids(list(split_messages(data))) == ["A", "B"]


def test_frame_without_msh_is_its_own_message():
    """Junk in a frame between two good ones is yielded alone and spoils neither."""
    data = b"\x0b" + one("A") + b"\x1c\r\x0bHELLO\r\x1c\r\x0b" + one("B") + b"\x1c\r"
    messages = list(split_messages(data))
    assert [m.data for m in messages] == [one("A"), b"HELLO\r", one("B")]


def test_mixed_line_breaks_are_accepted():
    """LF, CRLF and CR may be mixed within and between messages."""
    data = one("A", b"\n") + one("B", b"\r\n") + one("C")
    messages = list(split_messages(data))
    assert control_ids(messages) == ["A", "B", "C"]
    assert [m.line for m in messages] == [1, 4, 7]


def test_blank_lines_between_messages_are_skipped():
    """Blank and whitespace-only lines between messages belong to no message."""
    data = b"\n\n" + one("A", b"\n") + b"\n  \n\t\n" + one("B", b"\n") + b"\n\n"
    messages = list(split_messages(data))
    assert [m.data for m in messages] == [one("A", b"\n"), one("B", b"\n")]
    assert [m.line for m in messages] == [3, 9]


def test_blank_lines_inside_a_message_are_kept():
    """A blank line between two segments stays in the message's bytes (the parser skips it)."""
    data = msh("A") + b"\r\r" + PID + b"\r"
    (message,) = split_messages(data)
    assert message.data == data
    assert [s.name for s in parse_message(message.data).segments] == ["MSH", "PID"]


def test_junk_before_the_first_msh_is_yielded():
    """Content before the first MSH is a message of its own, so it can be quarantined."""
    data = b"hello\r\nworld\r\n" + one("A", b"\r\n")
    messages = list(split_messages(data))
    assert [(m.data, m.line) for m in messages] == [
        (b"hello\r\nworld\r\n", 1),
        (one("A", b"\r\n"), 3),
    ]


def test_segments_outside_any_message_are_yielded():
    """Segments after a batch trailer and before the next MSH are not dropped."""
    data = b"BHS|^~\\&\rEVN|A04\rPID|1\rBTS|0\r" + one("A")
    messages = list(split_messages(data))
    assert [(m.data, m.line) for m in messages] == [
        (b"EVN|A04\rPID|1\r", 2),
        (one("A"), 5),
    ]


def test_line_numbers_count_cr_lf_and_crlf_once_each():
    """Line numbers are 1-based and count each CR, LF or CRLF as one line break."""
    # A's last CR and the LF after it make one CRLF: B starts on line 5, not 6.
    data = b"FHS|^~\\&\r\n" + one("A", b"\r") + b"\n" + one("B", b"\n")
    assert [m.line for m in split_messages(data)] == [2, 5]
    assert [m.line for m in split_messages(b"\n\r" + one("A"))] == [3]


def test_byte_order_mark_is_skipped():
    """A UTF-8 BOM at the start of the file is not part of the first message."""
    messages = list(split_messages(b"\xef\xbb\xbf" + one("A") + one("B")))
    assert messages[0] == RawMessage(one("A"), 1)
    assert len(messages) == 2


def test_byte_order_mark_before_each_concatenated_file_is_skipped():
    """`cat a.hl7 b.hl7` of files saved with a BOM: each BOM is dropped, each MSH found."""
    data = b"\xef\xbb\xbf" + one("A") + b"\xef\xbb\xbf" + one("B")
    assert list(split_messages(data)) == [
        RawMessage(one("A"), 1),
        RawMessage(one("B"), 4),
    ]


def test_last_message_without_final_line_break_is_yielded():
    """The last segment needs no line break."""
    data = one("A") + msh("B") + b"\r" + PID
    messages = list(split_messages(data))
    assert messages[-1].data == msh("B") + b"\r" + PID


def test_empty_or_blank_input_yields_nothing():
    """No bytes, or only blank lines and framing, is no message."""
    assert list(split_messages(b"")) == []
    assert list(split_messages(b"\r\n \n\x0b\x1c\r")) == []


def test_raw_message_repr_hides_the_bytes():
    """A RawMessage's repr shows its line, never its health data."""
    assert "GARNIER" not in repr(RawMessage(b"PID|1||X||GARNIER", 3))


def test_large_stream_is_split_in_one_pass():
    """100,000 messages are cut in order, with their line numbers."""
    count = 100_000
    lines = [message.line for message in split_messages(one("X") * count)]
    assert len(lines) == count
    assert lines[-1] == 3 * (count - 1) + 1


@given(st.binary(max_size=400))
@settings(max_examples=200, deadline=None)
def test_any_bytes_are_cut_into_ordered_slices(data):
    """Whatever the input, every yielded message is a non-empty slice of it, in order."""
    position = 0
    for message in split_messages(data):
        assert message.data
        found = data.find(message.data, position)
        assert found >= 0
        position = found + len(message.data)
        assert message.line >= 1


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"third-party corpus absent: {CORPUS}")
def test_corpus_files_give_the_indexed_number_of_messages():
    """Each corpus file yields as many MSH-headed messages as INDEX.tsv counts."""
    with (CORPUS / "INDEX.tsv").open(encoding="utf-8", newline="") as index:
        rows = list(csv.DictReader(index, delimiter="\t"))
    assert len(rows) == 393
    found = {}
    for row in rows:
        messages = split_messages((CORPUS / row["path"]).read_bytes())
        found[row["path"]] = sum(1 for m in messages if m.data.startswith(b"MSH"))
    assert found == {row["path"]: int(row["messages"]) for row in rows}
