"""Cut a file or stream of HL7 v2 messages into one `RawMessage` per message, bytes unchanged.

Accepted around the messages: UTF-8 byte order marks (at the start of the file or of a
line beginning with MSH: concatenated files), MLLP frames (`0x0B` … `0x1C 0x0D`, any
number), FHS/BHS … BTS/FTS batch envelopes (dropped), blank lines, and segments separated by
CR, LF or CRLF, mixed. Nothing is parsed here beyond the first three bytes of each line.

A message starts at each line beginning with `MSH` and ends before the next one, before an
envelope segment, or at an MLLP frame boundary. Any other content outside a message (junk before
the first MSH, a frame without MSH…) is yielded as its own `RawMessage`: parsing it fails with a
clear error and the caller quarantines it, so nothing is dropped silently.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

from fmt_plugin.hl7.er7 import UTF8_BOM

_ENVELOPE_SEGMENTS: Final = (b"FHS", b"BHS", b"BTS", b"FTS")
_MLLP_START: Final = 0x0B
_MLLP_END: Final = 0x1C
# Line breaks count lines; MLLP block characters only cut.
_BREAK: Final = re.compile(rb"\r\n|[\r\n\x0b\x1c]")
_BLANKS: Final = b" \t\f"


@dataclass(frozen=True, slots=True)
class RawMessage:
    """The bytes of one message as found in the input, and the 1-based line it starts on.

    `data` runs from the start of the message's first line to the end of its last non-blank
    line, that line's break included when there is one; blank lines inside are kept.
    """

    data: bytes = field(repr=False)  # health data: never in a repr or a log
    line: int


def split_messages(data: bytes) -> Iterator[RawMessage]:
    """Yield the messages of `data` in order, in one pass (linear in the input's size).

    Lines are counted at CR, LF and CRLF, as an editor shows them; a line whose first bytes are
    a BOM or MLLP start block is counted like any other.
    """
    position = len(UTF8_BOM) if data.startswith(UTF8_BOM) else 0
    line = 1
    # The message being collected: where it starts, the line it starts on, where it ends.
    start = -1
    start_line = 0
    end = 0
    size = len(data)
    while position <= size:
        found = _BREAK.search(data, position)
        stop = found.start() if found is not None else size
        after = found.end() if found is not None else size
        content = data[position:stop]
        if content.strip(_BLANKS):
            # Files saved with a BOM and then concatenated carry one before each MSH.
            skip = len(UTF8_BOM) if content.startswith(UTF8_BOM) else 0
            head = content[skip : skip + 3]
            if head == b"MSH" or head in _ENVELOPE_SEGMENTS:
                if start >= 0:
                    yield RawMessage(data[start:end], start_line)
                    start = -1
                if head == b"MSH":
                    start, start_line = position + skip, line
            elif start < 0:
                start, start_line = position, line
            if start >= 0:
                end = (
                    after if found is not None and _is_line_break(data, stop) else stop
                )
        if found is None:
            break
        if _is_line_break(data, stop):
            line += 1
        elif start >= 0:
            # An MLLP block character: the frame ends (or a new one begins) here.
            yield RawMessage(data[start:end], start_line)
            start = -1
        position = after
    if start >= 0:
        yield RawMessage(data[start:end], start_line)


def _is_line_break(data: bytes, index: int) -> bool:
    return data[index] not in (_MLLP_START, _MLLP_END)
