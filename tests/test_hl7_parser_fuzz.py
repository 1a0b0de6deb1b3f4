"""Fuzz test: whatever the bytes, `parse_message` returns a Message or raises Hl7ParseError.

Seeds are the corpus and public scenario messages (a built-in message when they are absent),
mutated by truncation, byte flips, inserted separators, escape characters, line breaks and
random bytes. A message that parses is then read entirely, since fields are split lazily.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fmt_plugin.errors import Hl7ParseError
from fmt_plugin.hl7.batch import split_messages
from fmt_plugin.hl7.er7 import Message, parse_message, unescape

SHARED = Path(__file__).resolve().parents[2] / "shared"
BUILT_IN_SEED = (
    b"MSH|^~\\&|LABO|BIOLAB|FMT|CABINET|20260620101500||ORU^R01^ORU_R01|H1|P|2.5"
    b"|||AL|NE|FRA|8859/15\r"
    b"PID|1||148080905620659^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS||X^Y\r"
    b"OBX|1|TX|4548-4^HbA1c^LN||a\\F\\b\\.br\\c\\XE9\\\\H\\d\\N\\|%|||||F\r"
)


def load_seeds() -> list[bytes]:
    """Every message of the corpus and the public scenario, plus the built-in one."""
    paths = sorted((SHARED / "hl7-corpus").rglob("*.hl7"))
    paths += sorted((SHARED / "scenarios" / "public" / "messages").glob("*.hl7"))
    seeds = [BUILT_IN_SEED]
    for path in paths:
        seeds.extend(raw.data for raw in split_messages(path.read_bytes()))
    return seeds


SEEDS = load_seeds()
# Bytes that change how a message is cut: separators of every level, escape sequences, line
# breaks, MLLP and BOM bytes, bytes invalid in UTF-8, a second header.
SPECIAL = [
    b"|",
    b"^",
    b"~",
    b"\\",
    b"&",
    b"#",
    b"\r",
    b"\n",
    b"\r\n",
    b"\\X",
    b"\\.sp",
    b"\\.br\\",
    b"\\X0\\",
    b"\\XC3\\",
    b"\\P\\",
    b"\x0b",
    b"\x1c",
    b"\xef\xbb\xbf",
    b"\xff",
    b"\xe9",
    b"\x00",
    b"MSH|",
    b"|UNICODE UTF-8",
    b"|8859/1",
    b"|KLINGON",
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A seed message with a few random edits."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        position = draw(st.integers(min_value=0, max_value=len(data)))
        edit = draw(st.sampled_from(["truncate", "flip", "insert", "random", "delete"]))
        if edit == "truncate":
            del data[position:]
        elif edit == "flip" and position < len(data):
            data[position] ^= draw(st.integers(min_value=1, max_value=255))
        elif edit == "insert":
            data[position:position] = draw(st.sampled_from(SPECIAL))
        elif edit == "random":
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        else:
            del data[position : position + draw(st.integers(min_value=1, max_value=20))]
    return bytes(data)


def read_everything(message: Message) -> None:
    """Touch every lazy path of a parsed message."""
    repr(message)
    for name in (
        "message_code",
        "trigger_event",
        "structure",
        "control_id",
        "processing_id",
        "version",
        "accept_ack_type",
        "application_ack_type",
        "sending_application",
        "sending_facility",
        "receiving_application",
        "receiving_facility",
        "charset_name",
    ):
        assert isinstance(getattr(message, name), str)
    for segment in message.segments:
        repr(segment)
        assert message.first(segment.name) is not None
        for field in range(1, segment.field_count + 2):
            segment.raw(field)
            tree = segment.field(field)
            assert segment.repetitions(field) == len(tree)
            for repetition in range(1, len(tree) + 2):
                segment.components(field, repetition)
                segment.value(field, 2, 2, repetition)


def parses_or_rejects(data: bytes) -> None:
    try:
        message = parse_message(data)
    except Hl7ParseError as exc:
        error = exc
    else:
        read_everything(message)
        return
    assert error.code in (100, 101, 102, 103)
    assert str(error)


@given(mutated())
@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
def test_mutated_messages_parse_or_raise_hl7_parse_error(data):
    """A mutated corpus message is a Message or an Hl7ParseError, never another exception."""
    parses_or_rejects(data)


@given(st.binary(max_size=300))
@settings(max_examples=300, deadline=None)
def test_random_bytes_parse_or_raise_hl7_parse_error(data):
    """Arbitrary bytes are rejected with an Hl7ParseError (or, by luck, parsed)."""
    parses_or_rejects(data)


@given(st.binary(max_size=200))
@settings(max_examples=300, deadline=None)
def test_random_bytes_after_a_valid_header_parse_or_raise_hl7_parse_error(data):
    """Garbage after a good MSH reaches the segment and field code, not just the header."""
    parses_or_rejects(BUILT_IN_SEED + data)


@given(st.text(max_size=60), st.sampled_from(["utf-8", "latin-1", "ascii"]))
@settings(max_examples=300, deadline=None)
def test_unescape_accepts_any_text(text, charset):
    """`unescape` never fails, whatever sequences, charset or truncation the text holds."""
    message = parse_message(BUILT_IN_SEED)
    assert isinstance(unescape(text, message.encoding, charset), str)
