"""Sans-I/O MLLP framer: bytes in, frames and framing events out; no sockets, no HL7.

An MLLP frame is `0x0B` + payload + `0x1C 0x0D`. `MllpFramer.feed` takes whatever a read
returned and reports, in stream order, the complete frames, the bytes it had to drop outside
a frame, and a frame that grew over the size limit. The framer never reads the payload: it
does not know or care that it is HL7.

Cost is linear in the bytes fed: each byte is examined a bounded number of times, whatever
the chunking (a 16 MiB frame fed one byte at a time does not rescan what was already held).
"""

from __future__ import annotations

from dataclasses import dataclass

from fmt_plugin.errors import FmtError

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c\x0d"

#: How many payload bytes of an oversized frame are kept for the reject ACK (enough for MSH).
OVERSIZE_HEAD_BYTES = 4096

_FS = END_BLOCK[0]
_CR = END_BLOCK[1]
_WHITESPACE = b" \t\r\n"


class FramingError(FmtError):
    """The framer was used after it gave up on the stream (oversized frame, or closed)."""


@dataclass(frozen=True)
class Frame:
    """A complete frame: the bytes between `0x0B` and `0x1C 0x0D`."""

    payload: bytes

    def __repr__(self) -> str:
        # The payload is health data: a repr (hence a log line or a traceback) shows its size.
        return f"Frame(<{len(self.payload)} bytes>)"


@dataclass(frozen=True)
class SkippedJunk:
    """Bytes dropped outside a frame; only their count and kind are kept.

    A run of junk between frames is reported once, when the next `0x0B` arrives (or at
    `close`). A frame restarted before its end block (a second `0x0B`), or left unterminated
    at end of stream, is reported as junk too: its start byte and its partial payload.
    `whitespace_only` is true for runs of spaces, tabs, CR and LF (a stray newline some senders
    put between frames), which are harmless.
    """

    size: int
    whitespace_only: bool


@dataclass(frozen=True)
class Oversize:
    """A frame whose payload exceeds `limit` bytes; the framer stopped at the first byte over.

    `head` holds the first `min(4096, limit + 1)` payload bytes, enough for the HL7 layer to
    read MSH and answer with a reject ACK. The rest of the frame was not buffered.
    """

    head: bytes
    limit: int

    def __repr__(self) -> str:
        return f"Oversize(head=<{len(self.head)} bytes>, limit={self.limit})"


FramingEvent = Frame | SkippedJunk | Oversize


def frame(payload: bytes) -> bytes:
    """Wrap `payload` in MLLP start and end blocks, ready to write."""
    return START_BLOCK + payload + END_BLOCK


class MllpFramer:
    """Incremental MLLP decoder for one connection's byte stream.

    After an `Oversize` event, or after `close`, the framer refuses more input: the stream
    can no longer be trusted to be in sync, so the connection must be closed.
    """

    def __init__(self, max_message_bytes: int) -> None:
        if max_message_bytes < 0:
            raise ValueError("max_message_bytes must be >= 0")
        self._limit = max_message_bytes
        self._buf = bytearray()  # payload of the frame being received
        self._in_frame = False
        # A 0x1C that ended the previous chunk: the end block's first byte, or payload if
        # the next byte is not 0x0D. Held aside so the buffer only ever holds payload, and the
        # next feed resumes the end-block search where it stopped.
        self._held_fs = False
        self._junk_size = 0
        self._junk_whitespace = True
        self._finished = False
        self._leftover = b""

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame held (its payload so far; 0 between frames)."""
        return len(self._buf) + self._held_fs

    @property
    def in_progress(self) -> bool:
        """Whether the stream owes a complete frame: one has started and not ended, or bytes
        other than whitespace arrived since the last one.

        A server gives such a stream a deadline: a frame that never ends, or junk that never
        turns into a frame, must not hold a connection open byte after byte. Whitespace
        between frames does not count (some senders end each frame with a newline, then
        wait for their next message).
        """
        return self._in_frame or (self._junk_size > 0 and not self._junk_whitespace)

    @property
    def leftover(self) -> bytes:
        """After an `Oversize`: what followed, in the same `feed`, the first byte over.

        Those bytes were not framed (the framer stopped there). A server that consumes the
        rest of the oversized frame before closing looks for its end block here first.
        """
        return self._leftover

    def feed(self, data: bytes) -> list[FramingEvent]:
        """Consume `data` (one read's bytes); return the events it completes, in order.

        Partial frames and junk runs are kept as state for the next call. Raises
        `FramingError` if the framer has given up (after an `Oversize` or `close`); when an
        `Oversize` is returned, whatever followed in `data` is discarded (see `leftover`).
        """
        if self._finished:
            raise FramingError(
                "flux MLLP abandonné (trame trop grande ou fin du flux) : "
                "aucune donnée n'est plus acceptée"
            )
        events: list[FramingEvent] = []
        view = memoryview(data)
        i = 0
        n = len(data)
        while i < n:
            if not self._in_frame:
                i = self._skip_junk(data, i, events)
                continue
            if self._held_fs:
                self._held_fs = False
                if data[i] == _CR:
                    events.append(Frame(bytes(self._buf)))
                    self._end_frame()
                    i += 1
                    continue
                if self._over_limit(1):
                    events.append(self._oversize(b"\x1c", data[i:]))
                    return events
                self._buf.append(_FS)
            end = data.find(END_BLOCK, i)
            stop = n if end == -1 else end
            restart = data.find(START_BLOCK, i, stop)
            if restart != -1:
                stop = restart
            elif end == -1 and data[n - 1] == _FS:
                stop = n - 1  # may be the first half of the end block
            if self._over_limit(stop - i):
                over = i + self._limit - len(self._buf)  # the first byte over the limit
                events.append(self._oversize(view[i:stop], data[over + 1 :]))
                return events
            self._buf += view[i:stop]
            if restart != -1:
                # The sender started over: what it sent of the abandoned frame is junk.
                events.append(SkippedJunk(1 + len(self._buf), whitespace_only=False))
                self._buf.clear()
                i = restart + 1
            elif end != -1:
                events.append(Frame(bytes(self._buf)))
                self._end_frame()
                i = end + len(END_BLOCK)
            else:
                self._held_fs = stop != n
                i = n
        return events

    def close(self) -> list[SkippedJunk]:
        """End of stream: report pending junk and any unterminated frame; refuse more input."""
        events: list[SkippedJunk] = []
        if not self._finished:
            junk = self._take_junk()
            if junk is not None:
                events.append(junk)
            if self._in_frame:
                events.append(SkippedJunk(1 + self.pending, whitespace_only=False))
        self._finished = True
        self._buf = bytearray()
        self._in_frame = self._held_fs = False
        return events

    def _skip_junk(self, data: bytes, i: int, events: list[FramingEvent]) -> int:
        """Skip to the next start block; return the index after it (or len(data))."""
        start = data.find(START_BLOCK, i)
        stop = len(data) if start == -1 else start
        if stop > i:
            self._junk_size += stop - i
            if self._junk_whitespace and data[i:stop].strip(_WHITESPACE):
                self._junk_whitespace = False
        if start == -1:
            return len(data)
        junk = self._take_junk()
        if junk is not None:
            events.append(junk)
        self._in_frame = True
        return start + 1

    def _take_junk(self) -> SkippedJunk | None:
        """The junk run counted so far, if any; starts a new run."""
        junk = None
        if self._junk_size:
            junk = SkippedJunk(self._junk_size, whitespace_only=self._junk_whitespace)
        self._junk_size = 0
        self._junk_whitespace = True
        return junk

    def _over_limit(self, extra: int) -> bool:
        return len(self._buf) + extra > self._limit

    def _oversize(self, more: bytes | memoryview, leftover: bytes) -> Oversize:
        self._leftover = bytes(leftover)
        keep = min(OVERSIZE_HEAD_BYTES, self._limit + 1)
        head = bytes(self._buf[:keep])
        if len(head) < keep:
            head += bytes(more[: keep - len(head)])
        self._finished = True
        self._buf = bytearray()
        self._in_frame = False
        return Oversize(head, self._limit)

    def _end_frame(self) -> None:
        # A fresh buffer rather than clear(): after a 16 MiB frame, keep no 16 MiB allocation.
        self._buf = bytearray()
        self._in_frame = False
