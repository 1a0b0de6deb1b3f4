"""Domain records that adapters hand to the core: patients, acts, coded values, roster batches.

Every field that names or describes a patient is left out of `repr` so that a record printed in a
log line or a traceback shows only its internal id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from fmt_plugin.recalls.model import RecallMessage

Sex = Literal["F", "M"]

#: Code systems the rule packs understand; anything else goes through `fmt_translate_code`.
#: `EVENT` is an EHR's own structured record with no national code (e.g. `exam:9e_mois`, the
#: compulsory child exam ticked in the EHR's form).
KNOWN_CODE_SYSTEMS = frozenset({"CCAM", "NGAP", "NABM", "LOINC", "CVX", "ATC", "EVENT"})


@dataclass(frozen=True)
class Patient:
    """One patient of the practice's roster, as an adapter knows them.

    `patient_id` is the practice's own identifier (the EHR's); it is the internal id used in logs.
    `ins` is the 15-character matricule INS (NIR + key) or None when the identity is not qualified.
    """

    patient_id: str
    source: str
    ins: str | None = field(default=None, repr=False)
    nom: str = field(default="", repr=False)
    prenom: str = field(default="", repr=False)
    birth_date: date | None = field(default=None, repr=False)
    sex: Sex | None = field(default=None, repr=False)
    ald: frozenset[int] = field(default_factory=frozenset, repr=False)
    conditions: frozenset[str] = field(default_factory=frozenset, repr=False)
    flags: frozenset[str] = field(default_factory=frozenset, repr=False)
    opposition: bool = field(default=False, repr=False)
    #: Complémentaire santé solidaire: the forfait socle adds a supplement for these patients.
    c2s: bool = field(default=False, repr=False)
    mssante: str | None = field(default=None, repr=False)
    email: str | None = field(default=None, repr=False)
    telephone: str | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping of every field (for the encrypted store, never for logs)."""
        return {
            "patient_id": self.patient_id,
            "source": self.source,
            "ins": self.ins,
            "nom": self.nom,
            "prenom": self.prenom,
            "birth_date": self.birth_date.isoformat() if self.birth_date else None,
            "sex": self.sex,
            "ald": sorted(self.ald),
            "conditions": sorted(self.conditions),
            "flags": sorted(self.flags),
            "opposition": self.opposition,
            "c2s": self.c2s,
            "mssante": self.mssante,
            "email": self.email,
            "telephone": self.telephone,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Patient:
        """Rebuild a patient from `to_dict()` output."""
        birth = data.get("birth_date")
        return cls(
            patient_id=data["patient_id"],
            source=data["source"],
            ins=data.get("ins"),
            nom=data.get("nom", ""),
            prenom=data.get("prenom", ""),
            birth_date=date.fromisoformat(birth) if birth else None,
            sex=data.get("sex"),
            ald=frozenset(data.get("ald", ())),
            conditions=frozenset(data.get("conditions", ())),
            flags=frozenset(data.get("flags", ())),
            opposition=bool(data.get("opposition", False)),
            c2s=bool(data.get("c2s", False)),
            mssante=data.get("mssante"),
            email=data.get("email"),
            telephone=data.get("telephone"),
        )


@dataclass(frozen=True)
class Act:
    """An act or exam recorded in the EHR (CCAM, NGAP, …) for one patient, on one date."""

    patient_id: str
    date: date = field(repr=False)
    system: str = field(repr=False)
    code: str = field(repr=False)
    source: str = ""


@dataclass(frozen=True)
class Code:
    """A coded concept: `system` is one of KNOWN_CODE_SYSTEMS once translated."""

    system: str
    code: str
    label: str = ""


@dataclass(frozen=True)
class PatientIdentifier:
    """One identifier of a patient as a message carries it (HL7 PID-3 repetition).

    `kind` is the identifier type (`INS`, `PI`, …), `authority` the assigning authority's OID or
    name.
    """

    value: str = field(repr=False)
    kind: str
    authority: str = ""


@dataclass(frozen=True)
class RowProblem:
    """A record an adapter could not use, located precisely; never carries the record's content."""

    source: str
    message: str
    path: Path | None = None
    line: int | None = None
    column: str | None = None

    def __str__(self) -> str:
        location = str(self.path) if self.path else self.source
        if self.line is not None:
            location += f", ligne {self.line}"
        if self.column:
            location += f", colonne « {self.column} »"
        return f"{location} : {self.message}"


@dataclass(frozen=True)
class RosterBatch:
    """What one adapter returns from `fmt_roster`: its patients and the records it had to reject."""

    source: str
    patients: tuple[Patient, ...]
    problems: tuple[RowProblem, ...] = ()


class EventKind(StrEnum):
    """Kinds of clinical events the store keeps."""

    LAB_RESULT = "lab_result"
    VACCINATION = "vaccination"
    ACT = "act"
    DECLARATION = "declaration"


@dataclass(frozen=True)
class StoredEvent:
    """A clinical event just committed to the store (argument of `fmt_events_stored`).

    Only the internal ids travel: a listener that needs the content reads it from the store.
    """

    event_id: int
    patient_id: str
    kind: EventKind


@dataclass(frozen=True)
class StatusChange:
    """An indicator whose status changed for a patient (argument of `fmt_status_changed`)."""

    patient_id: str
    indicator: str
    old_status: str | None
    new_status: str
    as_of: date
    due: date | None = None


@dataclass(frozen=True)
class AdapterInfo:
    """Who an adapter is, shown by `check-config` and the service's status."""

    name: str
    version: str
    description: str = ""
    hooks_version: int = 1


@runtime_checkable
class RecallChannel(Protocol):
    """A way to reach a patient with a recall (MSSanté, SMS, the EHR's own messaging…).

    Returned by `fmt_recall_channels`; the core awaits `send`, the hook itself does no I/O.
    """

    name: str

    def can_reach(self, patient: Patient) -> bool:
        """True when this channel has an address for the patient (no I/O)."""

    async def send(self, message: RecallMessage) -> None:
        """Deliver one message, or raise a `ChannelError` saying whether to retry.

        `TemporaryChannelError`: try again later on this channel; `PermanentChannelError`:
        never on this channel, try the next; `UncertainDeliveryError`: the server may have it,
        never re-send automatically. Returning normally means the server accepted it.
        """
