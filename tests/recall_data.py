"""Builders of the recall test data several test modules share: patients, items, recalls.

Every value is fixed (no today()) and fictitious; tests look for these names and numbers in
logs and error messages to prove that patient data stays out of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from fmt_plugin.model import Patient
from fmt_plugin.recalls.model import (
    Audience,
    DueItem,
    PlannedRecall,
    PracticeContact,
    RecallMessage,
)
from fmt_plugin.rules.model import Status
from fmt_plugin.storage import KeyRing, Store

#: Who the test stores record as the actor of what the tests do.
ACTOR = "test"
#: A valid, qualified INS: the channels derive the patient's MSSanté address from it.
INS = "146026322000196"
#: When the letters of the channel tests were created.
CREATED_AT = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
PRACTICE = PracticeContact("Cabinet des Lilas", "01 23 45 67 89")
#: The surname stem of the roster patients (`ZYGOMATIQUEP001`, …), unlikely anywhere else.
SURNAME = "ZYGOMATIQUE"

FLU_ITEM = DueItem(
    "grippe",
    "Vaccination grippe",
    "saison-2025",
    1,
    Status.A_VENIR,
    date(2026, 3, 15),
)


def ins_patient(**changes: Any) -> Patient:
    """Paul Durand, patient P042, with a qualified INS and no roster address."""
    values = {"ins": INS, "nom": "Durand", "prenom": "Paul", **changes}
    return Patient("P042", "test", **values)


def recall_message(
    patient: Patient | None = None, *, recall_id: int = 12
) -> RecallMessage:
    """A one-item flu recall letter to `patient` (default: `ins_patient()`), as channels get it."""
    return RecallMessage(
        recall_id=recall_id,
        message_id=f"<r{recall_id}.5c2e@fmt-plugin.invalid>",
        patient=patient or ins_patient(),
        audience=Audience.PATIENT,
        items=(FLU_ITEM,),
        practice=PRACTICE,
        created_at=CREATED_AT,
    )


def roster_patient(patient_id: str, **changes: Any) -> Patient:
    """A roster patient named after `patient_id`, reachable at `<id>@patient.mssante.fr`."""
    values = {
        "patient_id": patient_id,
        "source": "csv",
        "nom": f"{SURNAME}{patient_id}",
        "prenom": "Philomène",
        "birth_date": date(1961, 5, 4),
        "mssante": f"{patient_id.lower()}@patient.mssante.fr",
        **changes,
    }
    return Patient(**values)


@contextmanager
def roster_store(path: Path, keyring: KeyRing, *patient_ids: str) -> Iterator[Store]:
    """A new store at `path` whose roster holds `roster_patient(id)` for each id given."""
    with Store.create(path, keyring, actor=ACTOR) as store:
        store.sync_roster([roster_patient(p) for p in patient_ids], actor=ACTOR)
        yield store


def due_item(
    indicator: str = "dep_colorectal", step: int = 1, **changes: Any
) -> DueItem:
    """A due item of `indicator` at `step`; label, cycle, status and due date by default."""
    values = {
        "indicator": indicator,
        "label": f"Libellé de {indicator}",
        "cycle": "2027-01-23",
        "step": step,
        "status": Status.A_VERIFIER,
        "due": date(2027, 1, 23),
        **changes,
    }
    return DueItem(**values)


def planned_recall(patient_id: str = "P001", *items: DueItem) -> PlannedRecall:
    """A recall of `patient_id` for `items` (default: one `due_item()`), sent to the patient."""
    return PlannedRecall(patient_id, Audience.PATIENT, items or (due_item(),))
