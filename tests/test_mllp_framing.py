"""The sans-I/O MLLP framer, fed bytes directly: no sockets, no HL7."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fmt_plugin.errors import FmtError
from fmt_plugin.mllp.framing import (
    END_BLOCK,
    OVERSIZE_HEAD_BYTES,
    START_BLOCK,
    Frame,
    FramingError,
    MllpFramer,
    Oversize,
    SkippedJunk,
    frame,
)

MSG = b"MSH|^~\\&|LAB|HOSP|FMT|CAB|20260315||ORU^R01|MSG0001|P|2.5\rPID|1||123\r"
LIMIT = 1024


def feed_all(framer, chunks):
    events = []
    for chunk in chunks:
        events += framer.feed(chunk)
    return events


def frames(events):
    return [event.payload for event in events if isinstance(event, Frame)]


def test_one_frame_in_one_read():
    """A whole frame in one read yields its payload and leaves nothing pending."""
    framer = MllpFramer(LIMIT)
    assert framer.feed(frame(MSG)) == [Frame(MSG)]
    assert framer.pending == 0
    assert framer.close() == []


def test_frame_split_byte_by_byte():
    """A frame fed one byte at a time yields the same payload, once, at its last byte."""
    framer = MllpFramer(LIMIT)
    data = frame(MSG)
    events = []
    for i in range(len(data)):
        events += framer.feed(data[i : i + 1])
        if i < len(data) - 1:
            assert events == []
    assert events == [Frame(MSG)]


def test_pending_counts_the_partial_payload():
    """`pending` is the payload held so far, including a 0x1C that may start the end block."""
    framer = MllpFramer(LIMIT)
    assert framer.feed(START_BLOCK + b"abc") == []
    assert framer.pending == 3
    assert framer.feed(b"\x1c") == []
    assert framer.pending == 4
    assert framer.feed(b"\x0d") == [Frame(b"abc")]
    assert framer.pending == 0


def test_in_progress_from_the_start_block_or_junk_until_a_frame_ends():
    """`in_progress` holds from a start block or non-blank junk until a frame completes."""
    framer = MllpFramer(LIMIT)
    assert not framer.in_progress
    framer.feed(b"\r\n ")
    assert not framer.in_progress  # blanks between frames owe nothing
    framer.feed(START_BLOCK)
    assert framer.in_progress
    framer.feed(b"abc" + END_BLOCK)
    assert not framer.in_progress
    framer.feed(b"x")
    assert framer.in_progress


def test_end_block_split_across_reads():
    """An end block split between two reads still ends the frame."""
    framer = MllpFramer(LIMIT)
    assert framer.feed(START_BLOCK + MSG + b"\x1c") == []
    assert framer.feed(b"\x0d" + START_BLOCK) == [Frame(MSG)]


def test_lone_0x1c_inside_a_payload_is_payload():
    """A 0x1C not followed by 0x0D is part of the payload, even at a read boundary."""
    framer = MllpFramer(LIMIT)
    assert framer.feed(START_BLOCK + b"a\x1c") == []
    assert framer.feed(b"b\x1cc" + END_BLOCK) == [Frame(b"a\x1cb\x1cc")]


def test_several_frames_in_one_read():
    """Three frames in one read come out as three frames, in order."""
    framer = MllpFramer(LIMIT)
    payloads = [MSG, MSG.replace(b"MSG0001", b"MSG0002"), b"x"]
    assert framer.feed(b"".join(frame(p) for p in payloads)) == [
        Frame(p) for p in payloads
    ]


def test_empty_frame():
    """A frame with no payload is reported as such (what it means is the handler's call)."""
    assert MllpFramer(LIMIT).feed(START_BLOCK + END_BLOCK) == [Frame(b"")]


def test_junk_before_start_block_is_skipped_and_reported():
    """Bytes before 0x0B are dropped and reported once, as non-whitespace junk."""
    framer = MllpFramer(LIMIT)
    events = feed_all(framer, [b"GET / HTTP/1.1", b"\r\n", frame(MSG)])
    assert events == [SkippedJunk(16, whitespace_only=False), Frame(MSG)]


def test_whitespace_between_frames_is_flagged():
    """A stray CR LF between frames is reported as whitespace-only junk."""
    framer = MllpFramer(LIMIT)
    events = framer.feed(frame(b"a") + b"\r\n" + frame(b"b") + b"\n")
    assert events == [Frame(b"a"), SkippedJunk(2, whitespace_only=True), Frame(b"b")]
    assert framer.close() == [SkippedJunk(1, whitespace_only=True)]


def test_restart_inside_a_frame_drops_the_partial_frame():
    """A new 0x0B before the end block abandons the partial frame as junk."""
    framer = MllpFramer(LIMIT)
    assert framer.feed(START_BLOCK + b"partial") == []
    events = framer.feed(START_BLOCK + MSG + END_BLOCK)
    assert events == [
        SkippedJunk(1 + len(b"partial"), whitespace_only=False),
        Frame(MSG),
    ]


def test_oversize_reported_as_soon_as_the_limit_is_crossed():
    """The first byte over the limit yields Oversize with the frame's head, unbuffered."""
    framer = MllpFramer(10)
    assert framer.feed(START_BLOCK + b"0123456789") == []
    assert framer.pending == 10
    events = framer.feed(b"ABCDEF")
    assert events == [Oversize(b"0123456789A", 10)]
    assert framer.pending == 0


def test_oversize_head_is_capped():
    """The head of a large oversized frame is its first 4096 payload bytes."""
    payload = bytes(range(32, 127)) * 100
    framer = MllpFramer(5000)
    events = framer.feed(START_BLOCK + payload)
    assert events == [Oversize(payload[:OVERSIZE_HEAD_BYTES], 5000)]


def test_frame_exactly_at_the_limit_is_accepted():
    """A payload of exactly max_message_bytes is a frame, even with a split end block."""
    framer = MllpFramer(4)
    assert framer.feed(START_BLOCK + b"abcd\x1c") == []
    assert framer.feed(b"\x0d") == [Frame(b"abcd")]


def test_framer_refuses_input_after_oversize():
    """After an Oversize, feeding again raises FramingError, an FmtError."""
    framer = MllpFramer(3)
    events = framer.feed(frame(b"too long") + frame(b"ok"))
    assert events == [Oversize(b"too ", 3)]
    with pytest.raises(FramingError) as excinfo:
        framer.feed(frame(b"ok"))
    assert isinstance(excinfo.value, FmtError)
    assert framer.close() == []


def test_eof_inside_a_frame_reports_the_partial_frame():
    """close() reports an unterminated frame (start byte and payload) as junk."""
    framer = MllpFramer(LIMIT)
    assert framer.feed(frame(b"a") + START_BLOCK + b"half\x1c") == [Frame(b"a")]
    assert framer.close() == [SkippedJunk(1 + len(b"half\x1c"), whitespace_only=False)]
    with pytest.raises(FramingError):
        framer.feed(b"more")


def test_repr_never_shows_the_payload():
    """A frame's repr gives its size, not its content (which is health data)."""
    assert "MSG0001" not in repr(Frame(MSG))
    assert "MSG0001" not in repr(Oversize(MSG, 3))
    assert str(len(MSG)) in repr(Frame(MSG))


def test_sixteen_mib_frame_in_64_kib_chunks():
    """A 16 MiB frame fed in 64 KiB chunks is framed whole (the framer is linear)."""
    size = 16 * 1024 * 1024
    payload = (MSG * (size // len(MSG) + 1))[:size]
    data = frame(payload)
    framer = MllpFramer(size)
    chunk = 64 * 1024
    events = []
    for i in range(0, len(data), chunk):
        events += framer.feed(data[i : i + chunk])
    assert len(events) == 1
    assert events[0] == Frame(payload)


def test_sixteen_mib_frame_over_the_limit_is_not_buffered():
    """One byte over a 16 MiB limit yields Oversize with a 4096-byte head."""
    size = 16 * 1024 * 1024
    framer = MllpFramer(size)
    chunk = b"x" * (64 * 1024)
    events = framer.feed(START_BLOCK)
    while not events:
        assert framer.pending <= size
        events = framer.feed(chunk)
    assert events == [Oversize(b"x" * OVERSIZE_HEAD_BYTES, size)]


payloads = st.lists(
    st.binary(max_size=200).map(
        lambda b: b.replace(START_BLOCK, b"").replace(END_BLOCK, b"")
    ),
    min_size=1,
    max_size=6,
)
separators = st.sampled_from([b"", b"\r\n", b"\n", b"junk"])


@st.composite
def chunked(draw, data_strategy):
    """A byte string and one way of cutting it into reads."""
    data = draw(data_strategy)
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=20)))
    bounds = [0, *cuts, len(data)]
    return data, [data[a:b] for a, b in pairwise(bounds)]


@st.composite
def frame_streams(draw):
    items = draw(payloads)
    gaps = draw(st.lists(separators, min_size=len(items), max_size=len(items)))
    stream = b"".join(gap + frame(p) for gap, p in zip(gaps, items, strict=True))
    return items, stream


@given(st.data())
def test_any_chunking_yields_the_same_frames(data):
    """However a stream of frames is cut into reads, the same frames come out in order."""
    items, stream = data.draw(frame_streams())
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=30)))
    bounds = [0, *cuts, len(stream)]
    chunks = [stream[a:b] for a, b in pairwise(bounds)]
    framer = MllpFramer(LIMIT)
    events = feed_all(framer, chunks)
    assert frames(events) == items
    assert framer.close() == []


# Mostly the bytes that matter to MLLP, so that starts, ends and restarts are common.
mllp_bytes = st.lists(st.sampled_from(b"\x0b\x1c\x0d\n a"), max_size=300).map(bytes)


@given(chunked(mllp_bytes), st.integers(0, 64))
def test_any_chunking_yields_the_same_events(stream_and_chunks, limit):
    """On arbitrary bytes, every event (junk, restarts, oversize) is independent of chunking."""
    stream, chunks = stream_and_chunks
    reference = MllpFramer(limit)
    expected = reference.feed(stream)
    if not any(isinstance(event, Oversize) for event in expected):
        expected += reference.close()
    framer = MllpFramer(limit)
    events = []
    for chunk in chunks:
        events += framer.feed(chunk)
        if any(isinstance(event, Oversize) for event in events):
            break
    else:
        events += framer.close()
    assert events == expected
