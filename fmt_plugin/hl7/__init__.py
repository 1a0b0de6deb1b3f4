"""HL7 v2 messages: read ER7 files and streams into parsed messages (fast parser or hl7apy)."""

from __future__ import annotations

from fmt_plugin.hl7.batch import RawMessage, split_messages
from fmt_plugin.hl7.er7 import (
    Encoding,
    FieldTree,
    Message,
    Segment,
    decode_message,
    parse_message,
    unescape,
)
from fmt_plugin.hl7.reference import parse_with_hl7apy

__all__ = [
    "Encoding",
    "FieldTree",
    "Message",
    "RawMessage",
    "Segment",
    "decode_message",
    "parse_message",
    "parse_with_hl7apy",
    "split_messages",
    "unescape",
]
