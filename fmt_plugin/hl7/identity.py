"""Who a stored message is about, as its PID segment says: name, birth date and identifiers.

For the practice's eyes only (`quarantine list`): a quarantined message was not matched to a
patient, so the person must be recognised from what the sender wrote. Read from the raw
message as received, without the vendors' rewriting hooks. Nothing here is logged, and the
dataclass keeps its values out of `repr`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from fmt_plugin.errors import Hl7Error
from fmt_plugin.hl7.er7 import Segment, parse_message
from fmt_plugin.hl7.extract import parse_hl7_date, patient_identifiers
from fmt_plugin.model import PatientIdentifier

#: PID-5.7 name type of the birth name ("nom de naissance"), which the INS identity uses.
LEGAL_NAME = "L"


@dataclass(frozen=True)
class ReceivedIdentity:
    """The PID of a message: PID-5 (family and given names), PID-7 and PID-3.

    `birth_date` is None when PID-7 is empty or not a date (`birth_text` keeps it as
    written); `ins` is the PID-3 identifier of type INS, `others` the other identifiers.
    """

    family: str = field(repr=False)
    given: str = field(repr=False)
    birth_date: date | None = field(repr=False)
    birth_text: str = field(repr=False)
    ins: str | None = field(repr=False)
    others: tuple[PatientIdentifier, ...] = field(repr=False)


def received_identity(raw: bytes) -> ReceivedIdentity | None:
    """The identity the message's first PID gives; None when it cannot be read."""
    try:
        message = parse_message(raw)
        pid = message.first("PID")
        if pid is None:
            return None
        identifiers = patient_identifiers(pid)
        family, given = _name(pid)
    except Hl7Error:
        return None
    birth_text = pid.value(7)
    ins = next((i.value for i in identifiers if i.kind.upper() == "INS"), None)
    return ReceivedIdentity(
        family=family,
        given=given,
        birth_date=_date_or_none(birth_text),
        birth_text=birth_text,
        ins=ins,
        others=tuple(i for i in identifiers if i.kind.upper() != "INS"),
    )


def _name(pid: Segment) -> tuple[str, str]:
    """(family, given) of the birth name repetition of PID-5, or of the first one."""
    repetitions = max(pid.repetitions(5), 1)
    chosen = 1
    for repetition in range(1, repetitions + 1):
        if pid.value(5, 7, repetition=repetition).upper() == LEGAL_NAME:
            chosen = repetition
            break
    family = pid.value(5, 1, repetition=chosen).strip()
    given = pid.value(5, 2, repetition=chosen).strip()
    return family, given


def _date_or_none(text: str) -> date | None:
    if not text:
        return None
    try:
        return parse_hl7_date(text)
    except ValueError:
        return None
