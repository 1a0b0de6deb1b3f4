"""Clinical events received from labs and EHRs (lab results, vaccinations), as the store keeps them.

An event keeps the code and system exactly as received; translation to the rule pack's code
systems happens at evaluation time, so a vendor's new translation also applies to events
received before it. Every field that says something about the patient's health is left out
of `repr`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from fmt_plugin.model import EventKind

#: Event kinds that arrive in HL7 messages (the others come from adapters or the practice).
HL7_EVENT_KINDS = frozenset({EventKind.LAB_RESULT, EventKind.VACCINATION})


class EventAction(StrEnum):
    """What a received event does to an earlier event with the same identity."""

    # A new observation, or a newer version (corrected, final after preliminary): the
    # latest received replaces the earlier one.
    RECORD = "record"
    # OBX-11 `X`/`D`, RXA-21 `D`: the earlier observation is withdrawn; nothing replaces it.
    WITHDRAW = "withdraw"


class EventState(StrEnum):
    """Where a stored event stands: only `current` events are evidence."""

    CURRENT = "current"
    SUPERSEDED = "superseded"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class Coding:
    """A code as a message carries it: `system` is the sender's name for the coding system."""

    system: str
    code: str
    label: str = ""


@dataclass(frozen=True)
class ClinicalEvent:
    """One lab result (OBX) or vaccination (RXA) extracted from a message.

    `status` is OBX-11 for a result (`F`, `C`, `P`…) and RXA-20 for a vaccination (`CP`,
    `RE`, `NA`…). `identity` is what names the same observation in a later message (order
    number, code, sub-id); it is only ever stored as a blind index. `alternate` is the CWE's
    alternate coding (components 4–6), tried when the primary code means nothing to the
    rule pack. `order` is OBR-4, the ordered test, for results.
    """

    kind: EventKind
    date: date = field(repr=False)
    coding: Coding = field(repr=False)
    status: str = field(default="", repr=False)
    action: EventAction = EventAction.RECORD
    alternate: Coding | None = field(default=None, repr=False)
    order: Coding | None = field(default=None, repr=False)
    value: str = field(default="", repr=False)
    unit: str = field(default="", repr=False)
    identity: tuple[str, ...] = field(default=(), repr=False)

    def codings(self) -> list[Coding]:
        """The primary coding, then the alternate and the ordered test when present."""
        return [c for c in (self.coding, self.alternate, self.order) if c is not None]

    def counts(self) -> bool:
        """True when the event is evidence that the act was done.

        Results count when final or corrected; vaccinations unless refused, not administered
        or an error (RXA-20 `RE`, `NA`); empty RXA-20 means complete (HL7's default).
        """
        if self.kind is EventKind.LAB_RESULT:
            return self.status in ("F", "C")
        return self.status not in ("RE", "NA")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (for the encrypted store, never for logs)."""
        return {
            "kind": self.kind.value,
            "date": self.date.isoformat(),
            "coding": _coding_dict(self.coding),
            "status": self.status,
            "action": self.action.value,
            "alternate": _coding_dict(self.alternate),
            "order": _coding_dict(self.order),
            "value": self.value,
            "unit": self.unit,
            "identity": list(self.identity),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClinicalEvent:
        """Rebuild an event from `to_dict()` output; KeyError/ValueError/TypeError if bad."""
        coding = _coding_from(data["coding"])
        if coding is None:
            raise ValueError("event without coding")
        return cls(
            kind=EventKind(data["kind"]),
            date=date.fromisoformat(data["date"]),
            coding=coding,
            status=str(data["status"]),
            action=EventAction(data["action"]),
            alternate=_coding_from(data["alternate"]),
            order=_coding_from(data["order"]),
            value=str(data["value"]),
            unit=str(data["unit"]),
            identity=tuple(str(part) for part in data["identity"]),
        )


@dataclass(frozen=True)
class StoredClinicalEvent:
    """A clinical event as read back from the store, with its ids and state."""

    event_id: int
    message_id: int
    patient_id: str
    state: EventState
    event: ClinicalEvent


def _coding_dict(coding: Coding | None) -> dict[str, str] | None:
    if coding is None:
        return None
    return {"system": coding.system, "code": coding.code, "label": coding.label}


def _coding_from(data: Any) -> Coding | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        raise TypeError("coding")
    return Coding(str(data["system"]), str(data["code"]), str(data.get("label", "")))
