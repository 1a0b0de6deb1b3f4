"""What an ORU^R01 or VXU^V04 says: patient identifiers, lab results and vaccinations.

Works on a parsed `Message` and knows HL7 v2.x field positions; knows nothing of the store,
the roster or the rule packs. A message whose mandatory content is missing or malformed raises
`Hl7Error` naming the segment and field (answered AE); a type we do not integrate raises it
with code 200/201 (answered AR).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import TypeVar

from fmt_plugin.clinical import ClinicalEvent, Coding, EventAction
from fmt_plugin.errors import Hl7Error
from fmt_plugin.hl7.er7 import Message, Segment
from fmt_plugin.model import EventKind, PatientIdentifier
from fmt_plugin.timezone import PARIS

#: (MSH-9.1, MSH-9.2) of the messages we integrate.
SUPPORTED_EVENTS = frozenset({("ORU", "R01"), ("VXU", "V04")})
#: HL7 v2 versions whose ORU/VXU field positions we read (v2.3 to v2.8).
SUPPORTED_VERSION = re.compile(r"2\.[3-8](\.\d+)?")
#: OBX-11 statuses that retract an earlier result.
WITHDRAWING_RESULT_STATUSES = frozenset({"X", "D"})
#: An OBX value is kept for display, not as a document: ED/RP payloads stay in the raw message.
MAX_VALUE_CHARS = 200
_DTM = re.compile(
    r"(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.\d+)?([+-]\d{4})?"
)
_NOT_VALUES = frozenset({"ED", "RP"})
_HL7_CODE = re.compile(r"[A-Z0-9_]{1,7}")


@dataclass(frozen=True)
class MessageContent:
    """The patient identifiers and clinical events of one message."""

    identifiers: tuple[PatientIdentifier, ...]
    events: tuple[ClinicalEvent, ...]


def check_supported(message: Message) -> None:
    """Refuse, with HL7 error codes, a message type, event or version we do not integrate."""
    code, trigger = message.message_code, message.trigger_event
    if (code, trigger) in SUPPORTED_EVENTS:
        if not SUPPORTED_VERSION.fullmatch(message.version):
            raise Hl7Error(
                "version HL7 non prise en charge (2.3 à 2.8 attendue)",
                code=203,
                segment="MSH",
                field=12,
            )
        return
    # Quoted in logs and ACKs: only what looks like an HL7 code, never arbitrary field text.
    shown = "^".join(_as_code(part) for part in (code, trigger))
    if code in {c for c, _ in SUPPORTED_EVENTS}:
        raise Hl7Error(
            f"événement {shown} non pris en charge (ORU^R01, VXU^V04 attendus)",
            code=201,
            segment="MSH",
            field=9,
        )
    raise Hl7Error(
        f"type de message {shown} non pris en charge (ORU^R01, VXU^V04 attendus)",
        code=200,
        segment="MSH",
        field=9,
    )


def _as_code(text: str) -> str:
    return text if _HL7_CODE.fullmatch(text) else "?"


def extract_content(message: Message) -> MessageContent:
    """The identifiers and events of a supported message; Hl7Error (AE) when incomplete."""
    check_supported(message)
    pid = message.first("PID")
    if pid is None:
        raise Hl7Error("segment PID absent", code=100, segment="PID")
    identifiers = patient_identifiers(pid)
    if message.message_code == "ORU":
        events = lab_results(message)
    else:
        events = vaccinations(message)
    return MessageContent(identifiers, tuple(events))


def patient_identifiers(pid: Segment) -> tuple[PatientIdentifier, ...]:
    """Each PID-3 repetition (CX): ID, type (CX.5) and authority (CX.4 as `name&oid&type`)."""
    found = []
    for repetition in pid.field(3):
        parts = [component[:3] for component in repetition[:5]]
        parts += [("",)] * (5 - len(parts))
        value = parts[0][0].strip()
        if not value:
            continue
        authority = "&".join(part for part in parts[3] if part)
        found.append(
            PatientIdentifier(
                value=value, kind=parts[4][0].strip(), authority=authority
            )
        )
    return tuple(found)


def lab_results(message: Message) -> list[ClinicalEvent]:
    """One event per OBX, dated by OBX-14, else its OBR-7."""
    return _events(message, "OBR", "OBX", _Order, _lab_result, "aucun résultat")


G = TypeVar("G")


def _events(
    message: Message,
    group: str,
    item: str,
    read_group: Callable[[Segment], G],
    build: Callable[[Segment, G | None, int], ClinicalEvent],
    none_found: str,
) -> list[ClinicalEvent]:
    """`build(segment, its group, occurrence)` for each `item` segment.

    The group segment is read once (`read_group`), however many items it holds.
    """
    events: list[ClinicalEvent] = []
    parent: G | None = None
    for segment in message.segments:
        if segment.name == group:
            parent = read_group(segment)
        elif segment.name == item:
            events.append(build(segment, parent, len(events) + 1))
    if not events:
        raise Hl7Error(f"{none_found} (segment {item}) dans le message", code=100)
    return events


class _Order:
    """An OBR, with what each of its results reads from it worked out once."""

    __slots__ = ("_date", "_dated", "coding", "identity", "obr")

    def __init__(self, obr: Segment) -> None:
        self.obr = obr
        self.coding = _coding(_components(obr, 4))
        self.identity = _order_identity(obr)
        self._date: date | None = None
        self._dated = False

    def date(self) -> date | None:
        """OBR-7's date; read when a result has no OBX-14, so an error only then."""
        if not self._dated:
            self._date = _date_of(self.obr, 7, _occurrence(self.obr))
            self._dated = True
        return self._date


def _lab_result(obx: Segment, order: _Order | None, occurrence: int) -> ClinicalEvent:
    coding, alternate = _required_coding(obx, 3, occurrence)
    status = _plain(obx, 11).upper()
    if not status:
        raise Hl7Error(
            "statut du résultat absent",
            code=101,
            segment="OBX",
            segment_index=occurrence,
            field=11,
        )
    when = _date_of(obx, 14, occurrence)
    if when is None and order is not None:
        when = order.date()
    if when is None:
        raise Hl7Error(
            "date du résultat absente (OBX-14 et OBR-7 vides)",
            code=101,
            segment="OBX",
            segment_index=occurrence,
            field=14,
        )
    value_type = _plain(obx, 2).upper()
    return ClinicalEvent(
        kind=EventKind.LAB_RESULT,
        date=when,
        coding=coding,
        status=status,
        action=(
            EventAction.WITHDRAW
            if status in WITHDRAWING_RESULT_STATUSES
            else EventAction.RECORD
        ),
        alternate=alternate,
        order=order.coding if order is not None else None,
        value="" if value_type in _NOT_VALUES else _value(obx),
        unit=_plain(obx, 6),
        identity=(
            order.identity if order is not None else "",
            coding.system,
            coding.code,
            _plain(obx, 4),
        ),
    )


def vaccinations(message: Message) -> list[ClinicalEvent]:
    """One event per RXA; an ORC-3 (filler order) names the administration across messages."""
    return _events(message, "ORC", "RXA", _same, _vaccination, "aucune vaccination")


def _same(segment: Segment) -> Segment:
    return segment


def _vaccination(rxa: Segment, orc: Segment | None, occurrence: int) -> ClinicalEvent:
    coding, alternate = _required_coding(rxa, 5, occurrence)
    when = _date_of(rxa, 3, occurrence)
    if when is None:
        raise Hl7Error(
            "date d'administration absente",
            code=101,
            segment="RXA",
            segment_index=occurrence,
            field=3,
        )
    filler = _plain(orc, 3) if orc is not None else ""
    action = _plain(rxa, 21).upper()
    return ClinicalEvent(
        kind=EventKind.VACCINATION,
        date=when,
        coding=coding,
        status=_plain(rxa, 20).upper(),
        action=EventAction.WITHDRAW if action == "D" else EventAction.RECORD,
        alternate=alternate,
        value=_plain(rxa, 6),
        unit=_plain(rxa, 7),
        identity=(
            ("order", filler)
            if filler
            else ("given", coding.system, coding.code, when.isoformat())
        ),
    )


def _plain(segment: Segment, field: int) -> str:
    """The first value of a field, stripped; read from the raw text when it holds no delimiter.

    Most fields we read are one plain value (a status, a date): skipping the tree a full
    `value()` builds halves the cost of extracting a message (measured by bench/).
    """
    raw = segment.raw(field)
    if raw.isalnum():
        return raw
    return segment.value(field).strip()


def _required_coding(
    segment: Segment, field: int, occurrence: int
) -> tuple[Coding, Coding | None]:
    """A CWE's coding (Hl7Error when it has none) and its alternate coding."""
    parts = _components(segment, field)
    coding = _coding(parts)
    if coding is None:
        raise Hl7Error(
            "code absent",
            code=101,
            segment=segment.name,
            segment_index=occurrence,
            field=field,
        )
    return coding, _alternate(parts)


def _occurrence(segment: Segment) -> int:
    """ERL.2 of a segment we did not count: its OBR-1 / set id when numeric, else 1."""
    set_id = segment.value(1).strip()
    return int(set_id) if set_id.isdigit() and int(set_id) > 0 else 1


def _coding(parts: list[str]) -> Coding | None:
    """A CWE's primary coding; the alternate (components 4–6) when only it is given."""
    code = parts[0].strip()
    if code:
        return Coding(parts[2].strip(), code, parts[1].strip())
    return _alternate(parts)


def _alternate(parts: list[str]) -> Coding | None:
    code = parts[3].strip()
    if not code:
        return None
    return Coding(parts[5].strip(), code, parts[4].strip())


def _components(segment: Segment, field: int) -> list[str]:
    """The first repetition's components (first subcomponents), padded to six."""
    parts = segment.components(field)
    if len(parts) < 6:
        parts = parts + [""] * (6 - len(parts))
    return parts


def _order_identity(obr: Segment) -> str:
    """The filler order number, else the placer's, else the ordered test and its date."""
    for field in (3, 2):
        number = obr.value(field).strip()
        if number:
            return f"{field}:{number}"
    return f"4:{obr.value(4, 3)}|{obr.value(4, 1)}|{obr.value(7)}"


def _value(obx: Segment) -> str:
    parts = (part.strip() for part in obx.components(5)[:4])
    return " ".join(p for p in parts if p)[:MAX_VALUE_CHARS]


def _date_of(segment: Segment, field: int, occurrence: int) -> date | None:
    """The calendar date in Europe/Paris of a DTM field; None if empty, Hl7Error if invalid."""
    text = _plain(segment, field)
    if not text:
        return None
    try:
        return parse_hl7_date(text)
    except ValueError:
        raise Hl7Error(
            "date invalide",
            code=102,
            segment=segment.name,
            segment_index=occurrence,
            field=field,
        ) from None


@functools.lru_cache(maxsize=4096)
def parse_hl7_date(text: str) -> date:
    """The Europe/Paris calendar date of an HL7 DTM (`YYYY[MM[DD[HH[MM[SS]]]]][+ZZZZ]`).

    A time with an offset is converted to Paris time first (a result at 23:30 UTC in summer
    is the next day in Paris); without an offset the sender's local (French) time is taken as
    is. A month or a day left out means the first one: an earlier date makes a screening
    expire earlier, which errs on the side of recalling. Raises ValueError when invalid.
    """
    match = _DTM.fullmatch(text)
    if match is None:
        raise ValueError("not an HL7 date (YYYY[MM[DD[HH[MM[SS]]]]][+ZZZZ])")
    year, month, day, hour, minute, second, offset = match.groups()
    when = datetime(  # noqa: DTZ001 -- the offset, when given, is applied just below
        int(year),
        int(month or 1),
        int(day or 1),
        int(hour or 0),
        int(minute or 0),
        int(second or 0),
    )
    if offset is None or hour is None:
        return when.date()
    sign = 1 if offset[0] == "+" else -1
    delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5]))
    if delta >= timedelta(hours=24):
        raise ValueError("not an HL7 date (YYYY[MM[DD[HH[MM[SS]]]]][+ZZZZ])")
    aware = when.replace(tzinfo=timezone(sign * delta))
    return aware.astimezone(PARIS).date()
