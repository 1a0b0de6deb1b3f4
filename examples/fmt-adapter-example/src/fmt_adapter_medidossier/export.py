"""Read MédiDossier's JSON Lines exports (`patients.jsonl`, `actes.jsonl`) into fmt-plugin records.

One JSON object per line, so every rejected record is located by its line and its field. A
problem's message names the field and the patient id, never a value: the messages are shown
to the practice and may end up in logs.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from operator import attrgetter
from pathlib import Path
from typing import Any, TypeVar

from fmt_plugin.errors import InputError
from fmt_plugin.ins import InvalidIns, check_ins
from fmt_plugin.model import Act, Patient, RowProblem, Sex

from fmt_adapter_medidossier.codes import LAB_SYSTEM

SOURCE = "medidossier"
PATIENTS_FILE = "patients.jsonl"
ACTS_FILE = "actes.jsonl"
#: Set on a patient with an account on MédiDossier's patient portal. A flag travels with the
#: patient through the store, so the portal channel of any process can see it.
PORTAL_FLAG = "medidossier:portail"
#: MédiDossier's act types and the coding system of their codes.
ACT_SYSTEMS = {"ccam": "CCAM", "ngap": "NGAP", "bio": LAB_SYSTEM, "examen": "EVENT"}
_SEXES: dict[str, Sex] = {"F": "F", "M": "M"}
_CIM10 = re.compile(r"[A-Z][0-9]{2}(?:\.?[0-9A-Z+]{1,4})?")
_FLAG = re.compile(r"[a-z0-9_.-]+(?::[a-z0-9_.-]+)*")

T = TypeVar("T")


@dataclass(frozen=True)
class Export:
    """One reading of the export folder: patients, their acts, the rejected records."""

    patients: tuple[Patient, ...]
    acts_by_patient: Mapping[str, tuple[Act, ...]]
    problems: tuple[RowProblem, ...]
    #: The files' state when read (see `export_stamp`).
    stamp: tuple[tuple[int, int, int], ...]


class _BadField(Exception):
    """A field is unusable: `field` names it; the message never quotes its value."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass
class _Record:
    """One JSON object of an export file, its line, and its problems so far."""

    data: Mapping[str, Any]
    path: Path
    line: int
    problems: list[RowProblem] = field(default_factory=list)

    def problem(self, column: str | None, message: str) -> None:
        self.problems.append(_problem(message, self.path, self.line, column))

    def take(self, name: str, parse: Callable[[object, str], T], fallback: T) -> T:
        """The field `name` through `parse`; on failure, record why and give `fallback`."""
        try:
            return parse(self.data.get(name), name)
        except _BadField as exc:
            self.problem(exc.field, str(exc))
            return fallback


def export_stamp(folder: Path) -> tuple[tuple[int, int, int], ...]:
    """(inode, mtime in ns, size) of each export file: changes when MédiDossier re-exports."""
    stamps = []
    for name in (PATIENTS_FILE, ACTS_FILE):
        try:
            stat = os.stat(folder / name)
        except FileNotFoundError:
            stamps.append((0, 0, 0))
            continue
        except OSError as exc:
            raise InputError(
                f"fichier inaccessible ({exc.strerror})", path=folder / name
            ) from exc
        stamps.append((stat.st_ino, stat.st_mtime_ns, stat.st_size))
    return tuple(stamps)


def read_export(folder: Path) -> Export:
    """The patients and acts of the export in `folder`, and the records left out.

    `patients.jsonl` is required, `actes.jsonl` optional. A record is left out when a field
    is invalid, or when its patient id or INS was already seen; an act when its patient is
    not among the kept patients. Raises `InputError` when a file cannot be read or decoded.
    """
    # Taken before reading: a file rewritten meanwhile just looks changed next time.
    stamp = export_stamp(folder)
    problems: list[RowProblem] = []
    patients = _read_patients(folder / PATIENTS_FILE, problems)
    acts: list[Act] = []
    acts_path = folder / ACTS_FILE
    if acts_path.exists():
        known = {patient.patient_id for patient in patients}
        acts = _read_acts(acts_path, known, problems)
    by_patient: dict[str, list[Act]] = {}
    for act in sorted(acts, key=attrgetter("date")):
        by_patient.setdefault(act.patient_id, []).append(act)
    return Export(
        patients=tuple(patients),
        acts_by_patient={pid: tuple(found) for pid, found in by_patient.items()},
        problems=tuple(problems),
        stamp=stamp,
    )


def _read_patients(path: Path, problems: list[RowProblem]) -> list[Patient]:
    patients: list[Patient] = []
    first_line_by_id: dict[str, int] = {}
    owner_by_ins: dict[str, str] = {}
    for record in _records(path, problems):
        patient = _patient_from(record)
        if patient.patient_id:
            first = first_line_by_id.setdefault(patient.patient_id, record.line)
            if first != record.line:
                record.problem(
                    "id",
                    f"patient « {patient.patient_id} » déjà présent ligne {first} ; "
                    "ligne ignorée",
                )
        if patient.ins:
            owner = owner_by_ins.setdefault(patient.ins, patient.patient_id)
            if owner != patient.patient_id:
                record.problem(
                    "ins", f"INS déjà porté par le patient « {owner} » ; ligne ignorée"
                )
        if record.problems:
            problems.extend(record.problems)
        else:
            patients.append(patient)
    return patients


def _read_acts(path: Path, known: set[str], problems: list[RowProblem]) -> list[Act]:
    acts: list[Act] = []
    for record in _records(path, problems):
        act = _act_from(record)
        if act.patient_id and act.patient_id not in known:
            record.problem(
                "patient", f"patient « {act.patient_id} » absent de la patientèle"
            )
        if record.problems:
            problems.extend(record.problems)
        else:
            acts.append(act)
    return acts


def _records(path: Path, problems: list[RowProblem]) -> Iterator[_Record]:
    """The JSON objects of the file at `path`, one per non-blank line, with their line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"fichier illisible ({exc.strerror})", path=path) from exc
    except UnicodeDecodeError as exc:
        raise InputError(
            "fichier non UTF-8 : exporter en UTF-8", path=path, line=None
        ) from exc
    for line, content in enumerate(text.splitlines(), start=1):
        if not content.strip():
            continue
        try:
            data = json.loads(content)
        except json.JSONDecodeError as exc:
            # exc.msg describes the syntax error without quoting the line.
            message = f"JSON invalide ({exc.msg}, caractère {exc.pos + 1})"
            problems.append(_problem(message, path, line))
            continue
        if not isinstance(data, dict):
            problems.append(_problem("un objet JSON est attendu", path, line))
            continue
        yield _Record(data, path, line)


def _problem(
    message: str, path: Path, line: int, column: str | None = None
) -> RowProblem:
    return RowProblem(
        source=SOURCE, message=message, path=path, line=line, column=column
    )


# --- Records to fmt-plugin's model ------------------------------------------------------


def _patient_from(record: _Record) -> Patient:
    """The patient of a record; meaningless when `record.problems` is not empty."""
    flags: frozenset[str] = record.take("marqueurs", _flags, frozenset())
    if record.take("portail", _boolean, False):
        flags |= {PORTAL_FLAG}
    return Patient(
        patient_id=record.take("id", _required, ""),
        source=SOURCE,
        ins=record.take("ins", _ins, None),
        nom=record.take("nom", _text, ""),
        prenom=record.take("prenom", _text, ""),
        birth_date=record.take("naissance", _iso_date, None),
        sex=record.take("sexe", _sex, None),
        ald=record.take("ald", _ald, frozenset()),
        conditions=record.take("cim10", _conditions, frozenset()),
        flags=flags,
        opposition=record.take("opposition", _boolean, False),
        c2s=record.take("c2s", _boolean, False),
        mssante=record.take("mssante", _optional_text, None),
        email=record.take("email", _optional_text, None),
        telephone=record.take("telephone", _optional_text, None),
    )


def _act_from(record: _Record) -> Act:
    """The act of a record; meaningless when `record.problems` is not empty."""
    return Act(
        patient_id=record.take("patient", _required, ""),
        date=record.take("date", _iso_date, date.min),
        system=record.take("type", _act_system, ""),
        code=record.take("code", _required, ""),
        source=SOURCE,
    )


# --- Field parsers: (value, field) → result, or _BadField -------------------------------


def _required(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _BadField(name, f"« {name} » absent ou vide")
    return value.strip()


def _text(value: object, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _BadField(name, f"« {name} » doit être une chaîne")
    return value.strip()


def _optional_text(value: object, name: str) -> str | None:
    return _text(value, name) or None


def _boolean(value: object, name: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _BadField(name, f"« {name} » doit valoir true ou false")
    return value


def _ins(value: object, name: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _BadField(name, f"« {name} » doit être une chaîne")
    try:
        return check_ins(value)
    except InvalidIns as exc:
        raise _BadField(name, f"« {name} » : {exc} ; ligne ignorée") from exc


def _iso_date(value: object, name: str) -> date:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass  # the message below does not repeat the value
    raise _BadField(name, f"date « {name} » absente ou invalide, attendu AAAA-MM-JJ")


def _sex(value: object, name: str) -> Sex | None:
    if value is None:
        return None
    sex = _SEXES.get(str(value).upper())
    if sex is None:
        raise _BadField(name, f"« {name} » invalide, attendu F ou M")
    return sex


def _ald(value: object, name: str) -> frozenset[int]:
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(
        isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 32 for n in value
    ):
        raise _BadField(name, f"« {name} » : attendu une liste d'entiers de 1 à 32")
    return frozenset(value)


def _conditions(value: object, name: str) -> frozenset[str]:
    codes = _strings(value, name)
    if not all(_CIM10.fullmatch(code.upper()) for code in codes):
        raise _BadField(name, f"code CIM-10 invalide dans « {name} » (ex. E11.9)")
    return frozenset(code.upper() for code in codes)


def _flags(value: object, name: str) -> frozenset[str]:
    flags = frozenset(flag.lower() for flag in _strings(value, name))
    if not all(_FLAG.fullmatch(flag) for flag in flags):
        raise _BadField(name, f"marqueur invalide dans « {name} » (ex. risk:grippe)")
    return flags


def _strings(value: object, name: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _BadField(name, f"« {name} » : attendu une liste de chaînes")
    return [v.strip() for v in value if v.strip()]


def _act_system(value: object, name: str) -> str:
    system = ACT_SYSTEMS.get(str(value).lower()) if isinstance(value, str) else None
    if system is None:
        known = ", ".join(sorted(ACT_SYSTEMS))
        raise _BadField(name, f"type d'acte inconnu dans « {name} », attendu : {known}")
    return system
