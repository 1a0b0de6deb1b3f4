"""Build HL7 v2 acknowledgements (ACK): MSH, MSA and ERR, in original or enhanced mode.

Original mode (MSH-15 and MSH-16 empty) gets one ACK, AA/AE/AR. Enhanced mode gets the accept
ACK (CA/CE/CR) as MSH-15 asks, then the application ACK (AA/AE/AR, its own MSH-10) as MSH-16
asks (HL7 2.5 §2.9.3, table 0155). MSA-2 always echoes the received MSH-10; the header swaps
sender and receiver and echoes MSH-11, MSH-12, MSH-17 and MSH-18 (the ANS examples' rule), in
the sender's own encoding characters and charset. Built by hand rather than with hl7apy: an
ACK is three segments, and it sits on the latency path of every message (the tests parse
every ACK back with hl7apy).
"""

from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from fmt_plugin.errors import Hl7Error
from fmt_plugin.hl7.er7 import Message, charset_codec
from fmt_plugin.storage.inbox import Rejection

#: HL7 table 0357, the texts ERR-3 carries.
ERROR_TEXTS = {
    0: "Message accepted",
    100: "Segment sequence error",
    101: "Required field missing",
    102: "Data type error",
    103: "Table value not found",
    200: "Unsupported message type",
    201: "Unsupported event code",
    202: "Unsupported processing id",
    203: "Unsupported version id",
    204: "Unknown key identifier",
    205: "Duplicate key identifier",
    206: "Application record locked",
    207: "Application internal error",
}
#: ANS application error conditions (ERR-5) for patient identity problems.
ANS_ERRORS = {
    "902": "Identifiant de patient inconnu",
    "903": "INS absent",
    "904": "INS différent de celui connu",
    "905": "INS incomplet",
    "906": "Autre erreur",
}
ENHANCED_CODES = {"AA": "CA", "AE": "CE", "AR": "CR"}
#: HL7 table 0155, the conditions MSH-15 and MSH-16 may ask for.
ACK_CONDITIONS = frozenset({"AL", "NE", "ER", "SU"})
_DEFAULT_ENCODING = "^~\\&"
_MSH_FIELDS = re.compile(rb"MSH(.)")
_counter = itertools.count(1)
# Process-unique prefix: two fmt-plugin processes must not emit the same ACK MSH-10.
_PREFIX = os.urandom(3).hex().upper()


@dataclass(frozen=True)
class AckHeader:
    """What an ACK needs from the received message's header (raw ER7 field text)."""

    field_separator: str = "|"
    encoding_characters: str = _DEFAULT_ENCODING
    sending_application: str = ""
    sending_facility: str = ""
    receiving_application: str = ""
    receiving_facility: str = ""
    control_id: str = ""
    processing_id: str = "P"
    version: str = "2.5"
    trigger_event: str = ""
    accept_ack_type: str = ""
    application_ack_type: str = ""
    country: str = ""
    charset: str = ""
    codec: str = "utf-8"

    @property
    def enhanced(self) -> bool:
        """Enhanced acknowledgement mode: MSH-15 or MSH-16 valued, both from table 0155.

        A value outside the table (`XX`, `ACCEPT`) means the header cannot be trusted to say
        what the sender waits for: it is answered as original mode (one ACK), never with
        silence.
        """
        conditions = (self.accept_ack_type, self.application_ack_type)
        return any(conditions) and all(
            not condition or condition in ACK_CONDITIONS for condition in conditions
        )

    def wants_accept_ack(self, accepted: bool) -> bool:
        """Whether an accept ACK (or, in original mode, the one ACK) is due.

        An empty MSH-15 in enhanced mode counts as AL: the accept ACK is what tells the
        sender it need not resend, so silence there is never assumed.
        """
        if not self.enhanced:
            return True
        return _condition_met(self.accept_ack_type or "AL", accepted)

    def wants_application_ack(self, accepted: bool) -> bool:
        """Whether an application ACK is due after the accept ACK (enhanced mode only).

        An empty MSH-16 in enhanced mode counts as NE: an ACK nobody asked for would be read
        by a one-answer-per-message sender as the answer to its next message.
        """
        if not self.enhanced:
            return False
        return _condition_met(self.application_ack_type or "NE", accepted)


def _condition_met(condition: str, accepted: bool) -> bool:
    """Table 0155: AL always, NE never, SU on success, ER on error or reject."""
    return (
        condition == "AL"
        or (condition == "SU" and accepted)
        or (condition == "ER" and not accepted)
    )


def header_of(message: Message) -> AckHeader:
    """The ACK header fields of a parsed message."""
    msh = message.msh
    return AckHeader(
        field_separator=message.encoding.field,
        encoding_characters=msh.raw(2),
        sending_application=msh.raw(3),
        sending_facility=msh.raw(4),
        receiving_application=msh.raw(5),
        receiving_facility=msh.raw(6),
        control_id=msh.raw(10),
        processing_id=msh.raw(11) or "P",
        version=msh.raw(12) or "2.5",
        trigger_event=message.trigger_event,
        accept_ack_type=message.accept_ack_type.strip().upper(),
        application_ack_type=message.application_ack_type.strip().upper(),
        country=msh.raw(17),
        charset=msh.raw(18),
        codec=message.charset,
    )


def header_of_raw(raw: bytes) -> AckHeader:
    """Best-effort header of a message we could not parse, so MSA-2 can still echo MSH-10.

    Never raises: whatever cannot be read is left at its default.
    """
    start = raw.find(b"MSH")
    if start < 0:
        return AckHeader()
    line = re.split(rb"[\r\n]", raw[start:], maxsplit=1)[0]
    match = _MSH_FIELDS.match(line)
    if match is None or match.group(1) in b"\r\n":
        return AckHeader()
    separator = match.group(1).decode("latin-1")
    fields = ["", *line.decode("latin-1").split(separator)]
    fields[1] = separator

    def field(n: int) -> str:
        return fields[n] if n < len(fields) else ""

    encoding = field(2)
    if not (_is_delimiter(separator) and 3 <= len(encoding) <= 5) or not all(
        _is_delimiter(c) for c in encoding
    ):
        # Delimiters we could not echo safely: answer in HL7's defaults.
        separator, encoding = "|", _DEFAULT_ENCODING
    component = encoding[0]
    return AckHeader(
        field_separator=separator,
        encoding_characters=encoding,
        sending_application=field(3),
        sending_facility=field(4),
        receiving_application=field(5),
        receiving_facility=field(6),
        control_id=field(10),
        processing_id=field(11) or "P",
        version=field(12) or "2.5",
        trigger_event=[*field(9).split(component), ""][1],
        accept_ack_type=field(15).strip().upper(),
        application_ack_type=field(16).strip().upper(),
        country=field(17),
        charset=field(18),
        codec=_codec_or_utf8(field(18)),
    )


def _is_delimiter(char: str) -> bool:
    """Printable ASCII punctuation: what a delimiter can be and still be echoed as is."""
    return (
        len(char) == 1 and char.isascii() and char.isprintable() and not char.isalnum()
    )


def _codec_or_utf8(charset: str) -> str:
    """The codec MSH-18 names; UTF-8 (the French profiles' default) when absent or unknown."""
    first = charset.split("~")[0]
    if not first.strip():
        return "utf-8"
    try:
        return charset_codec(first)
    except Hl7Error:
        return "utf-8"


def build_acks(
    header: AckHeader,
    code: str,
    rejection: Rejection | None = None,
    *,
    now: datetime,
) -> tuple[bytes, ...]:
    """Every ACK payload due for `header`'s message with outcome `code`, in sending order.

    Original mode: the one ACK. Enhanced mode: the accept ACK if MSH-15 asks for it, then
    the application ACK if MSH-16 asks for it; empty when the sender asked for neither.
    """
    accepted = code == "AA"
    acks = []
    if header.wants_accept_ack(accepted):
        acks.append(build_ack(header, code, rejection, now=now))
    if header.wants_application_ack(accepted):
        acks.append(build_ack(header, code, rejection, now=now, application=True))
    return tuple(acks)


def build_ack(
    header: AckHeader,
    code: str,
    rejection: Rejection | None = None,
    *,
    now: datetime,
    application: bool = False,
) -> bytes:
    """The ACK payload (unframed) answering `header`'s message with `code` (AA, AE or AR).

    In enhanced mode the accept codes CA/CE/CR are sent instead (our accept ACK is only
    built after the commit: it means "committed to safe storage", or not), unless this is
    the `application` ACK, which says AA/AE/AR. Every ACK gets its own MSH-10 and leaves
    MSH-15/16 empty, so that nobody acknowledges it. A rejection adds an ERR segment and a
    short MSA-3.
    """
    sent_code = ENHANCED_CODES[code] if header.enhanced and not application else code
    before_time, before_id, after_id = _template(
        header.field_separator,
        header.encoding_characters,
        header.receiving_application,
        header.receiving_facility,
        header.sending_application,
        header.sending_facility,
        header.trigger_event,
        header.processing_id,
        header.version,
        header.country,
        header.charset,
        sent_code,
    )
    text = (
        before_time
        + now.strftime("%Y%m%d%H%M%S")
        + before_id
        + next_control_id()
        + after_id
        + header.control_id
    )
    if rejection is not None:
        sep = header.field_separator
        text += sep + escape(_short(rejection.reason), header)
        text += "\r" + _err(header, rejection)
    return (text + "\r").encode(header.codec, errors="replace")


@lru_cache(maxsize=1024)
def _template(
    sep: str,
    enc: str,
    receiving_application: str,
    receiving_facility: str,
    sending_application: str,
    sending_facility: str,
    trigger_event: str,
    processing_id: str,
    version: str,
    country: str,
    charset: str,
    sent_code: str,
) -> tuple[str, str, str]:
    """An ACK's text around its time, its own MSH-10 and the MSA-2 it echoes.

    A sender's headers differ only in those: the rest is joined once per sender and code.
    """
    comp = enc[0]
    tail = sep.join([processing_id, version, "", "", "", "", country, charset])
    msh_tail = sep + tail.rstrip(sep) if tail.strip(sep) else ""
    before_time = sep.join(
        [
            "MSH",
            enc,
            receiving_application,
            receiving_facility,
            sending_application,
            sending_facility,
            "",
        ]
    )
    before_id = sep + sep + comp.join(["ACK", trigger_event, "ACK"]) + sep
    after_id = msh_tail + "\r" + sep.join(["MSA", sent_code, ""])
    return before_time, before_id, after_id


def _err(header: AckHeader, rejection: Rejection) -> str:
    sep = header.field_separator
    comp = header.encoding_characters[0]
    location = rejection.error_location.replace("^", comp)
    hl7_code = comp.join(
        [
            str(rejection.error_code),
            ERROR_TEXTS.get(rejection.error_code, ""),
            "HL70357",
        ]
    )
    application = ""
    if rejection.application_error:
        application = comp.join(
            [
                rejection.application_error,
                escape(ANS_ERRORS.get(rejection.application_error, ""), header),
                "applicationErrorCode",
            ]
        )
    fields = [
        "ERR",
        "",
        location,
        hl7_code,
        "E",
        application,
        "",
        "",
        escape(rejection.reason, header),
    ]
    return sep.join(fields)


def escape(text: str, header: AckHeader) -> str:
    """`text` with the message's delimiters escaped (HL7 2.5 §2.7.4)."""
    enc = header.encoding_characters
    esc = enc[2] if len(enc) > 2 else "\\"
    names = {header.field_separator: "F", esc: "E"}
    names[enc[0]] = "S"
    if len(enc) > 1:
        names[enc[1]] = "R"
    if len(enc) > 3:
        names[enc[3]] = "T"
    out = []
    for char in text:
        if char in names:
            out.append(f"{esc}{names[char]}{esc}")
        elif char in "\r\n":
            out.append(" ")
        else:
            out.append(char)
    return "".join(out)


def next_control_id() -> str:
    """A unique MSH-10 for our ACKs (20 characters at most, as HL7 2.5 requires)."""
    return f"FMT{_PREFIX}{next(_counter):011d}"[:20]


def _short(reason: str) -> str:
    """MSA-3 (80 characters in HL7 2.5): for old senders that ignore ERR."""
    return reason if len(reason) <= 80 else reason[:79] + "…"
