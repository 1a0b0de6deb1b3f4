"""The built-in `csv_roster` adapter: the patientèle and the EHR's acts, read from CSV exports.

Two UTF-8 files (a BOM is accepted), comma separated, with a header row: the roster
(`ROSTER_COLUMNS`) and, optionally, the acts (`ACTS_COLUMNS`). A record that cannot be used is
left out and reported as a `RowProblem` located by file, physical line and column; the other
records are kept. Problem messages never quote a cell of an identity column: only the column,
the line and the internal patient id are named.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from operator import attrgetter
from pathlib import Path
from typing import TypeVar

from fmt_plugin import __version__
from fmt_plugin.config import FmtConfig
from fmt_plugin.errors import InputError
from fmt_plugin.hooks import hookimpl
from fmt_plugin.ins import InvalidIns, check_ins
from fmt_plugin.model import (
    KNOWN_CODE_SYSTEMS,
    Act,
    AdapterInfo,
    Patient,
    RosterBatch,
    RowProblem,
    Sex,
)

SOURCE = "csv_roster"

ROSTER_COLUMNS = (
    "patient_id",
    "ins",
    "nom",
    "prenom",
    "date_naissance",
    "sexe",
    "ald",
    "conditions",
    "flags",
    "opposition",
    "mssante",
    "email",
    "telephone",
)
ACTS_COLUMNS = ("patient_id", "date", "system", "code")

ALD_NUMBERS = range(1, 33)
_SEXES: dict[str, Sex] = {"F": "F", "M": "M"}
_OPPOSITION = {"0": False, "1": True}
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# ATIH exports write CIM-10 codes without the dot (`E119`); both spellings give `E11.9`.
_CIM10 = re.compile(r"([A-Z][0-9]{2})(?:\.?([0-9A-Z+]{1,4}))?")
_FLAG = re.compile(r"[\w.-]+(?::[\w.-]+)*")

T = TypeVar("T")


class _BadCell(Exception):
    """A cell is unusable; the message names the column and the expected form, never the value."""


@dataclass
class _Row:
    """One data record being parsed: its stripped cells by column, and its problems so far."""

    cells: Mapping[str, str]
    line: int
    path: Path
    problems: list[RowProblem] = field(default_factory=list)

    def problem(self, column: str | None, message: str) -> None:
        """Record a problem located at this record and `column`."""
        self.problems.append(_problem(message, self.path, self.line, column))

    def take(self, column: str, parse: Callable[[str, str], T], fallback: T) -> T:
        """The cell of `column` through `parse`; on failure, record why and give `fallback`."""
        try:
            return parse(self.cells[column], column)
        except _BadCell as exc:
            self.problem(column, str(exc))
            return fallback


def read_roster(path: Path) -> tuple[list[Patient], list[RowProblem]]:
    """The patients of the roster CSV at `path`, and the records left out with their reason.

    A record is left out when a cell is invalid or when its patient id or its INS was already
    seen (the first occurrence is kept). A header lacking a column makes the whole file unusable:
    no patient, one problem. Raises `InputError` when the file cannot be read or decoded.
    """
    patients: list[Patient] = []
    problems: list[RowProblem] = []
    lines_by_id: dict[str, int] = {}
    owners_by_ins: dict[str, tuple[str, int]] = {}
    for row in _rows(path, ROSTER_COLUMNS, problems):
        patient = _patient_from(row)
        _check_unique_id(row, patient.patient_id, lines_by_id)
        if patient.ins is not None:
            _check_unique_ins(row, patient.patient_id, patient.ins, owners_by_ins)
        if row.problems:
            problems.extend(row.problems)
        else:
            patients.append(patient)
    return patients, problems


def read_acts(
    path: Path, known_patients: set[str] | None = None
) -> tuple[list[Act], list[RowProblem]]:
    """The acts of the acts CSV at `path`, and the records left out with their reason.

    With `known_patients`, an act of any other patient id is left out and reported. Raises
    `InputError` when the file cannot be read or decoded.
    """
    acts: list[Act] = []
    problems: list[RowProblem] = []
    for row in _rows(path, ACTS_COLUMNS, problems):
        act = _act_from(row)
        if (
            known_patients is not None
            and act.patient_id
            and act.patient_id not in known_patients
        ):
            row.problem(
                "patient_id",
                f"patient « {act.patient_id} » absent du roster ; acte ignoré",
            )
        if row.problems:
            problems.extend(row.problems)
        else:
            acts.append(act)
    return acts, problems


@dataclass(frozen=True)
class _ActsIndex:
    """The acts file parsed once, for the files' state given by `stamp`."""

    stamp: tuple[tuple[int, int, int], ...]
    known_patients: frozenset[str]
    acts_by_patient: Mapping[str, tuple[Act, ...]]


class CsvRosterAdapter:
    """Serves `fmt_roster` and `fmt_patient_acts` from the files of `[adapters.csv_roster]`.

    Inactive (every hook answers None) until a configuration with that table is given. `trylast`,
    so that a vendor adapter's answers come first.
    """

    name = SOURCE

    def __init__(self) -> None:
        self._roster: Path | None = None
        self._acts: Path | None = None
        self._index: _ActsIndex | None = None

    @hookimpl
    def fmt_adapter_info(self) -> AdapterInfo:
        """Name this built-in."""
        return AdapterInfo(
            name=SOURCE,
            version=__version__,
            description="patientèle et actes lus dans des exports CSV du logiciel médical",
        )

    @hookimpl
    def fmt_configure(self, config: FmtConfig) -> None:
        """Read `roster` (required) and `acts` (optional), both existing files."""
        self._roster = self._acts = None
        self._index = None
        section = config.adapter_section(SOURCE)
        if section is None:
            return
        roster = section.path("roster", must_exist=True)
        acts = section.optional_path("acts", must_exist=True)
        section.finish()
        for key, path in (("roster", roster), ("acts", acts)):
            if path is not None and not path.is_file():
                raise section.error(
                    key, f"{path} n'est pas un fichier", "un fichier CSV"
                )
        self._roster, self._acts = roster, acts

    @hookimpl(trylast=True)
    def fmt_roster(self, as_of: date) -> RosterBatch | None:
        """Both files read afresh (the EHR re-exports them); their problems together."""
        # `as_of` is unused: the export is a snapshot of today's patientèle, nothing to select.
        if self._roster is None:
            return None
        stamp = self._stamp()
        patients, problems = read_roster(self._roster)
        if self._acts is not None:
            known = {patient.patient_id for patient in patients}
            acts, act_problems = read_acts(self._acts, known)
            problems.extend(act_problems)
            self._index = _index(stamp, known, acts)
        return RosterBatch(
            source=SOURCE, patients=tuple(patients), problems=tuple(problems)
        )

    @hookimpl(trylast=True)
    def fmt_patient_acts(self, patient_id: str, since: date | None) -> list[Act] | None:
        """The patient's acts on or after `since`, oldest first; None for a patient not ours."""
        index = self._current_index()
        if index is None or patient_id not in index.known_patients:
            return None
        acts = index.acts_by_patient.get(patient_id, ())
        return [act for act in acts if since is None or act.date >= since]

    def _current_index(self) -> _ActsIndex | None:
        """The acts index, rebuilt only when either file changed since it was built."""
        if self._roster is None or self._acts is None:
            return None
        stamp = self._stamp()
        if self._index is None or self._index.stamp != stamp:
            patients, _ = read_roster(self._roster)
            known = {patient.patient_id for patient in patients}
            acts, _ = read_acts(self._acts, known)
            self._index = _index(stamp, known, acts)
        return self._index

    def _stamp(self) -> tuple[tuple[int, int, int], ...]:
        """The state of the configured files.

        Taken before reading them: a file rewritten while being read then merely looks changed on
        the next call, and is read again.
        """
        return tuple(_file_stamp(path) for path in (self._roster, self._acts) if path)


def _index(
    stamp: tuple[tuple[int, int, int], ...], known: set[str], acts: list[Act]
) -> _ActsIndex:
    """The acts grouped by patient, oldest first (a stable sort keeps the file's order)."""
    by_patient: dict[str, list[Act]] = {}
    for act in sorted(acts, key=attrgetter("date")):
        by_patient.setdefault(act.patient_id, []).append(act)
    return _ActsIndex(
        stamp=stamp,
        known_patients=frozenset(known),
        acts_by_patient={pid: tuple(found) for pid, found in by_patient.items()},
    )


def _file_stamp(path: Path) -> tuple[int, int, int]:
    """(inode, mtime in ns, size): changes when the EHR rewrites or replaces the file."""
    try:
        stat = os.stat(path)
    except OSError as exc:
        raise InputError(f"fichier inaccessible ({exc.strerror})", path=path) from exc
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


# --- Reading records -------------------------------------------------------------------------


def _rows(
    path: Path, columns: tuple[str, ...], problems: list[RowProblem]
) -> Iterator[_Row]:
    """The data records of the CSV file at `path`; header and field-count problems go to `problems`.

    Yields nothing when the header is unusable.
    """
    records = _records(path)
    first = next(records, None)
    if first is None:
        problems.append(_problem("fichier vide, ligne d'en-tête absente", path, 1))
        return
    header_line, raw_header = first
    header = [name.strip() for name in raw_header]
    usable, header_problems = _check_header(header, columns, path, header_line)
    problems.extend(header_problems)
    if not usable:
        return
    for line, fields in records:
        if len(fields) != len(header):
            message = f"{len(fields)} champs au lieu de {len(header)} ; ligne ignorée"
            problems.append(_problem(message, path, line))
            continue
        cells = {
            name: value.strip()
            for name, value in zip(header, fields, strict=True)
            if name in columns
        }
        yield _Row(cells, line, path)


def _check_header(
    header: list[str], columns: tuple[str, ...], path: Path, line: int
) -> tuple[bool, list[RowProblem]]:
    """Whether the records under `header` can be read, and what is wrong with it."""
    missing = [name for name in columns if name not in header]
    if missing:
        # The other names are not quoted: in a file exported without its header, they would
        # be a patient's cells.
        message = (
            f"colonnes absentes de l'en-tête : {', '.join(missing)} ; fichier ignoré"
        )
        column = missing[0] if len(missing) == 1 else None
        return False, [_problem(message, path, line, column)]
    doubled = sorted({name for name in header if header.count(name) > 1})
    if doubled:
        message = f"colonnes en double : {', '.join(doubled)} ; fichier ignoré"
        return False, [_problem(message, path, line, doubled[0])]
    return True, [
        _problem(f"colonne inconnue « {name} » ignorée", path, line, name)
        for name in header
        if name not in columns
    ]


def _records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(first physical line, fields) of each non-blank record of the CSV file at `path`.

    The whole file is read and decoded before the first record is yielded, so a decoding error
    is raised before any record is used.
    """
    reader = csv.reader(io.StringIO(_read_text(path), newline=""))
    start = 1
    try:
        for fields in reader:
            if fields and (len(fields) > 1 or fields[0].strip()):
                yield start, fields
            # A quoted field may span lines: the next record starts after this one's last line.
            start = reader.line_num + 1
    except csv.Error as exc:
        raise InputError(
            f"CSV mal formé ({exc})", path=path, line=reader.line_num
        ) from exc


def _read_text(path: Path) -> str:
    """The text of the file at `path`, without its UTF-8 BOM; raises `InputError` if unreadable."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"fichier illisible ({exc.strerror})", path=path) from exc
    skip = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[skip:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = skip + exc.start
        line = data.count(b"\n", 0, offset) + 1
        raise InputError(
            f"octet n° {offset} invalide en UTF-8 : exporter le fichier en UTF-8",
            path=path,
            line=line,
        ) from exc


def _problem(
    message: str, path: Path, line: int, column: str | None = None
) -> RowProblem:
    return RowProblem(
        source=SOURCE, message=message, path=path, line=line, column=column
    )


# --- Records to domain objects ---------------------------------------------------------------


def _patient_from(row: _Row) -> Patient:
    """The patient of a roster record; meaningless when `row.problems` is not empty."""
    return Patient(
        patient_id=row.take("patient_id", _required, ""),
        source=SOURCE,
        ins=row.take("ins", _ins, None),
        nom=row.cells["nom"],
        prenom=row.cells["prenom"],
        birth_date=row.take("date_naissance", _iso_date, None),
        sex=row.take("sexe", _sex, None),
        ald=row.take("ald", _ald, frozenset()),
        conditions=row.take("conditions", _conditions, frozenset()),
        flags=row.take("flags", _flags, frozenset()),
        opposition=row.take("opposition", _opposition, False),
        mssante=row.cells["mssante"] or None,
        email=row.cells["email"] or None,
        telephone=row.cells["telephone"] or None,
    )


def _act_from(row: _Row) -> Act:
    """The act of an acts record; meaningless when `row.problems` is not empty."""
    return Act(
        patient_id=row.take("patient_id", _required, ""),
        date=row.take("date", _iso_date, date.min),
        system=row.take("system", _code_system, ""),
        code=row.take("code", _required, "").upper(),
        source=SOURCE,
    )


def _check_unique_id(row: _Row, patient_id: str, lines_by_id: dict[str, int]) -> None:
    """Report a patient id already seen on an earlier record, rejected or not."""
    if not patient_id:
        return
    first_line = lines_by_id.setdefault(patient_id, row.line)
    if first_line != row.line:
        row.problem(
            "patient_id",
            f"patient « {patient_id} » déjà présent ligne {first_line} ; ligne ignorée",
        )


def _check_unique_ins(
    row: _Row, patient_id: str, ins: str, owners_by_ins: dict[str, tuple[str, int]]
) -> None:
    """Report an INS already carried by an earlier record: one person, two patient ids."""
    owner, line = owners_by_ins.setdefault(ins, (patient_id, row.line))
    if line != row.line:
        row.problem(
            "ins",
            f"matricule INS déjà porté par le patient « {owner} » ligne {line} ; "
            "ligne ignorée",
        )


# --- Cell parsers: (cell, column) → value, or _BadCell --------------------------------------


def _required(text: str, column: str) -> str:
    if not text:
        raise _BadCell(f"« {column} » vide")
    return text


def _ins(text: str, column: str) -> str | None:
    if not text:
        return None
    try:
        return check_ins(text)
    except InvalidIns as exc:
        raise _BadCell(f"« {column} » : {exc}") from exc


def _iso_date(text: str, column: str) -> date:
    if _ISO_DATE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass  # a well-shaped impossible date (2025-02-30) gets the same message
    state = "invalide" if text else "absente"
    raise _BadCell(f"date « {column} » {state}, attendu AAAA-MM-JJ")


def _sex(text: str, column: str) -> Sex:
    sex = _SEXES.get(text.upper())
    if sex is None:
        raise _BadCell(f"sexe « {column} » invalide, attendu F ou M")
    return sex


def _opposition(text: str, column: str) -> bool:
    if text not in _OPPOSITION:
        raise _BadCell(f"« {column} » invalide, attendu 0 ou 1")
    return _OPPOSITION[text]


def _ald(text: str, column: str) -> frozenset[int]:
    numbers = set()
    for item in _items(text):
        if not item.isascii() or not item.isdigit() or int(item) not in ALD_NUMBERS:
            raise _BadCell(
                f"numéro d'ALD invalide dans « {column} », "
                "attendu des entiers de 1 à 32 séparés par « ; »"
            )
        numbers.add(int(item))
    return frozenset(numbers)


def _conditions(text: str, column: str) -> frozenset[str]:
    codes = set()
    for item in _items(text.upper()):
        match = _CIM10.fullmatch(item)
        if match is None:
            raise _BadCell(
                f"code CIM-10 invalide dans « {column} », "
                "attendu par exemple E11 ou E11.9, séparés par « ; »"
            )
        category, detail = match.groups()
        codes.add(f"{category}.{detail}" if detail else category)
    return frozenset(codes)


def _flags(text: str, column: str) -> frozenset[str]:
    flags = frozenset(_items(text.lower()))
    if not all(_FLAG.fullmatch(flag) for flag in flags):
        raise _BadCell(
            f"indicateur invalide dans « {column} », "
            "attendu par exemple risk:grippe, séparés par « ; »"
        )
    return flags


def _code_system(text: str, column: str) -> str:
    system = text.upper()
    if system not in KNOWN_CODE_SYSTEMS:
        known = ", ".join(sorted(KNOWN_CODE_SYSTEMS))
        raise _BadCell(
            f"système de codage « {column} » inconnu, attendu un de : {known}"
        )
    return system


def _items(text: str) -> list[str]:
    """The non-empty items of a `;`-separated list (a trailing `;` is tolerated)."""
    return [item.strip() for item in text.split(";") if item.strip()]
