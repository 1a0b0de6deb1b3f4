"""The built-in `csv_roster` adapter: the patientèle and the EHR's acts, read from CSV exports.

Two files with a header row: the roster (`ROSTER_COLUMNS`, and the optional
`ROSTER_OPTIONAL_COLUMNS`) and, optionally, the acts
(`ACTS_COLUMNS`), as an EHR or French Excel writes them: UTF-8 or Windows-1252, `,` `;` or tab
separated, dates as JJ/MM/AAAA or AAAA-MM-JJ, each detected unless `[adapters.csv_roster]`
sets it (see `csv_format`). Header names are matched without case, accents or spaces.

A file that cannot be read as a whole (undecodable, empty, a header lacking a column) raises
`InputError`, so that nothing is synced from it: a roster read as empty would retire every
patient. A record that cannot be used is left out and reported as a `RowProblem` located by
file, physical line and column; the other records are kept. Messages never quote a cell of an
identity column: only the column, the line and the internal patient id are named.
"""

from __future__ import annotations

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
from fmt_plugin.adapters import csv_format
from fmt_plugin.adapters.csv_format import CsvFormat, DecodedText, UnreadableText
from fmt_plugin.config import FmtConfig, Section
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

#: Every part of the format detected in each file: what `[adapters.csv_roster]` defaults to.
DETECTED = CsvFormat()

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
#: Columns a roster may leave out (added after the first exports were written): an absent
#: column reads as an empty cell in every record.
ROSTER_OPTIONAL_COLUMNS = ("c2s",)
ACTS_COLUMNS = ("patient_id", "date", "system", "code")

ALD_NUMBERS = range(1, 33)
# Folded spellings (see csv_format.fold_name): French exports write H for homme.
_SEXES: dict[str, Sex] = {
    "f": "F",
    "femme": "F",
    "feminin": "F",
    "m": "M",
    "h": "M",
    "homme": "M",
    "masculin": "M",
}
# French Excel writes a boolean cell as VRAI/FAUX. An empty cell is no answer: refused.
_OPPOSITION = {
    "0": False,
    "non": False,
    "faux": False,
    "false": False,
    "1": True,
    "oui": True,
    "vrai": True,
    "true": True,
}
# The C2S is a yes/no like the opposition, but an empty cell (or no column) means "no": an
# export that does not know it must not stop the roster; the socle simply has no supplement.
_C2S = {"": False, **_OPPOSITION}
# Items of a list cell: `;` (the documented form), or `,` / `|` as some exports write them.
_LIST_SEPARATORS = re.compile(r"[;,|]")
_EXCEL_SEPARATOR_HINT = re.compile(r'"?sep=(.)"?', re.IGNORECASE)
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


def read_roster(
    path: Path, fmt: CsvFormat = DETECTED
) -> tuple[list[Patient], list[RowProblem]]:
    """The patients of the roster CSV at `path`, and the records left out with their reason.

    A record is left out when a cell is invalid or when its patient id or its INS was already
    seen (the first occurrence is kept). Raises `InputError`, naming the file and what is
    wrong, when the file cannot be read, decoded, or lacks a column of the header.
    """
    patients: list[Patient] = []
    problems: list[RowProblem] = []
    lines_by_id: dict[str, int] = {}
    owners_by_ins: dict[str, tuple[str, int]] = {}
    for row in _rows(path, ROSTER_COLUMNS, problems, fmt, ROSTER_OPTIONAL_COLUMNS):
        patient = _patient_from(row, fmt.date_format)
        _check_unique_id(row, patient.patient_id, lines_by_id)
        if patient.ins is not None:
            _check_unique_ins(row, patient.patient_id, patient.ins, owners_by_ins)
        if row.problems:
            problems.extend(row.problems)
        else:
            patients.append(patient)
    return patients, problems


def read_acts(
    path: Path,
    known_patients: set[str] | None = None,
    *,
    fmt: CsvFormat = DETECTED,
) -> tuple[list[Act], list[RowProblem]]:
    """The acts of the acts CSV at `path`, and the records left out with their reason.

    With `known_patients`, an act of any other patient id is left out and reported. Raises
    `InputError` like `read_roster`.
    """
    acts: list[Act] = []
    problems: list[RowProblem] = []
    for row in _rows(path, ACTS_COLUMNS, problems, fmt):
        act = _act_from(row, fmt.date_format)
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
        self._format = DETECTED
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
        """Read `roster` (required) and `acts` (optional), both existing files, and their format.

        `delimiter`, `encoding` and `date_format` default to `auto` (detected in each file).
        """
        self._roster = self._acts = None
        self._index = None
        self._format = DETECTED
        section = config.adapter_section(SOURCE)
        if section is None:
            return
        roster = section.path("roster", must_exist=True)
        acts = section.optional_path("acts", must_exist=True)
        fmt = format_from(section)
        section.finish()
        for key, path in (("roster", roster), ("acts", acts)):
            if path is not None and not path.is_file():
                raise section.error(
                    key, f"{path} n'est pas un fichier", "un fichier CSV"
                )
        self._roster, self._acts, self._format = roster, acts, fmt

    @hookimpl(trylast=True)
    def fmt_roster(self, as_of: date) -> RosterBatch | None:
        """Both files read afresh (the EHR re-exports them); their problems together."""
        # `as_of` is unused: the export is a snapshot of today's patientèle, nothing to select.
        if self._roster is None:
            return None
        stamp = self._stamp()
        patients, problems = read_roster(self._roster, self._format)
        if self._acts is not None:
            known = {patient.patient_id for patient in patients}
            acts, act_problems = read_acts(self._acts, known, fmt=self._format)
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
            patients, _ = read_roster(self._roster, self._format)
            known = {patient.patient_id for patient in patients}
            acts, _ = read_acts(self._acts, known, fmt=self._format)
            self._index = _index(stamp, known, acts)
        return self._index

    def _stamp(self) -> tuple[tuple[int, int, int], ...]:
        """The state of the configured files.

        Taken before reading them: a file rewritten while being read then merely looks changed on
        the next call, and is read again.
        """
        return tuple(_file_stamp(path) for path in (self._roster, self._acts) if path)


def format_from(section: Section) -> CsvFormat:
    """The files' format as `[adapters.csv_roster]` sets it; ConfigError naming a bad key."""
    return CsvFormat(
        delimiter=_setting(
            section,
            "delimiter",
            csv_format.delimiter_setting,
            '"auto", ";", "," ou "\\t"',
        ),
        encoding=_setting(
            section,
            "encoding",
            csv_format.encoding_setting,
            '"auto", "utf-8", "cp1252" (Windows-1252), "latin-1" ou "iso-8859-15"',
        ),
        date_format=_setting(
            section,
            "date_format",
            csv_format.date_format_setting,
            '"auto", "JJ/MM/AAAA" ou "AAAA-MM-JJ"',
        ),
    )


def _setting(section: Section, key: str, parse: Callable[[str], T], expected: str) -> T:
    value = section.string(key, csv_format.AUTO)
    try:
        return parse(value)
    except ValueError:
        raise section.error(key, f"valeur {value!r} inconnue", expected) from None


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
    path: Path,
    columns: tuple[str, ...],
    problems: list[RowProblem],
    fmt: CsvFormat,
    optional: tuple[str, ...] = (),
) -> Iterator[_Row]:
    """The data records of the CSV file at `path`; column and field problems go to `problems`.

    Every record has a cell for each of `columns` and `optional` (empty when an optional
    column is absent from the header).

    The whole file is read, decoded and its header checked before the first record is
    yielded, so an unreadable file raises `InputError` before any record is used.
    """
    decoded = _read_text(path, fmt.encoding)
    # Physical lines as the csv reader counts them (not str.splitlines, which also cuts
    # at form feeds and Unicode separators).
    lines = re.split(r"\r\n|\r|\n", decoded.text)
    first = _first_content_line(lines, 0)
    if first is None:
        raise InputError(
            "fichier vide, sans ligne d'en-tête ; attendu en première ligne : "
            + ";".join(columns),
            path=path,
            line=1,
        )
    skip_line: int | None = None
    hint = _EXCEL_SEPARATOR_HINT.fullmatch(lines[first].strip(" "))
    delimiter, how = fmt.delimiter, "imposé par la configuration"
    if hint is not None:
        # Excel's own first line `sep=;` names the separator; it is no header.
        skip_line = first + 1
        if delimiter is None:
            delimiter, how = hint.group(1), "indiqué par « sep= »"
        first = _first_content_line(lines, first + 1)
    if delimiter is None:
        header_text = lines[first] if first is not None else ""
        delimiter, how = csv_format.choose_delimiter(header_text, columns), "détecté"
    reading = csv_format.describe(delimiter, how, decoded)
    records = (
        record
        for record in _records(path, decoded.text, delimiter)
        if record[0] != skip_line
    )
    header_record = next(records, None)
    if header_record is None:
        raise InputError(f"fichier sans ligne d'en-tête — {reading}", path=path, line=1)
    header_line, raw_header = header_record
    positions = _check_header(
        raw_header, columns, path, header_line, reading, problems, optional
    )
    positions |= _optional_positions(raw_header, optional, path, header_line, problems)
    absent = dict.fromkeys((name for name in optional if name not in positions), "")
    for line, fields in records:
        fields = _fitted(fields, len(raw_header))
        if len(fields) > len(raw_header):
            message = (
                f"{len(fields)} champs au lieu de {len(raw_header)} ; ligne ignorée"
            )
            problems.append(_problem(message, path, line))
            continue
        cells = {name: fields[index].strip() for name, index in positions.items()}
        yield _Row(cells | absent, line, path)


def _first_content_line(lines: list[str], start: int) -> int | None:
    """The index of the first line from `start` that holds more than blanks and separators."""
    for index in range(start, len(lines)):
        if lines[index].strip(" \t,;"):
            return index
    return None


def _fitted(fields: list[str], width: int) -> list[str]:
    """`fields` cut or padded to the header's `width`, as far as it is safe.

    French Excel adds a `;` after the last cell of every line, or leaves the empty cells at
    the end of a line out: empty trailing fields are dropped and missing ones read as empty
    (a required one is then reported empty). Extra fields that hold something are kept, for
    the caller to reject the line.
    """
    while len(fields) > width and not fields[-1].strip():
        fields = fields[:-1]
    if len(fields) < width:
        fields = fields + [""] * (width - len(fields))
    return fields


def _check_header(
    raw_header: list[str],
    columns: tuple[str, ...],
    path: Path,
    line: int,
    reading: str,
    problems: list[RowProblem],
    optional: tuple[str, ...] = (),
) -> dict[str, int]:
    """Where each of `columns` sits in the header; raises InputError when one is missing.

    The `optional` columns are not required, and not reported as unknown either.

    The names are compared folded (`Date naissance` is `date_naissance`). Unknown and
    unnamed columns are reported to `problems` and ignored.
    """
    names = [csv_format.canonical_name(cell) for cell in raw_header]
    found = [name for name in columns if name in names]
    if not found:
        # The cells are not quoted: in a file exported without its header, they would be
        # a patient's.
        raise InputError(
            f"aucune des colonnes attendues en ligne {line} — {reading} ; la première "
            "ligne doit être l'en-tête : " + ";".join(columns),
            path=path,
            line=line,
        )
    missing = [name for name in columns if name not in names]
    if missing:
        raise InputError(
            f"colonnes absentes de l'en-tête : {', '.join(missing)} — {reading} ; "
            "fichier non lu",
            path=path,
            line=line,
            column=missing[0] if len(missing) == 1 else None,
        )
    doubled = sorted({name for name in found if names.count(name) > 1})
    if doubled:
        raise InputError(
            f"colonnes en double : {', '.join(doubled)} ; fichier non lu",
            path=path,
            line=line,
            column=doubled[0],
        )
    # Empty names at the end are Excel's trailing separator, not columns.
    last_named = max(i for i, cell in enumerate(raw_header) if cell.strip())
    for index, (cell, name) in enumerate(zip(raw_header, names, strict=True)):
        if name in columns or name in optional or index > last_named:
            continue
        message = (
            f"colonne inconnue « {cell.strip()} » ignorée"
            if cell.strip()
            else f"colonne n° {index + 1} sans nom ignorée"
        )
        problems.append(_problem(message, path, line, cell.strip() or None))
    return {name: names.index(name) for name in columns}


def _optional_positions(
    raw_header: list[str],
    optional: tuple[str, ...],
    path: Path,
    line: int,
    problems: list[RowProblem],
) -> dict[str, int]:
    """Where each of the `optional` columns present sits; a doubled one is refused."""
    names = [csv_format.canonical_name(cell) for cell in raw_header]
    doubled = sorted({name for name in optional if names.count(name) > 1})
    if doubled:
        raise InputError(
            f"colonnes en double : {', '.join(doubled)} ; fichier non lu",
            path=path,
            line=line,
            column=doubled[0],
        )
    return {name: names.index(name) for name in optional if name in names}


def _records(path: Path, text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(first physical line, fields) of each record of `text`, blank ones included."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    start = 1
    try:
        for fields in reader:
            # Blank lines, and Excel's lines of separators only (`;;;;`), are no records.
            if any(field.strip() for field in fields):
                yield start, fields
            # A quoted field may span lines: the next record starts after this one's last line.
            start = reader.line_num + 1
    except csv.Error as exc:
        raise InputError(
            f"CSV mal formé ({exc})", path=path, line=reader.line_num
        ) from exc


def _read_text(path: Path, encoding: str | None) -> DecodedText:
    """The text of the file at `path` (see `csv_format.decode`); raises `InputError`."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"fichier illisible ({exc.strerror})", path=path) from exc
    try:
        return csv_format.decode(data, encoding)
    except UnreadableText as exc:
        message = exc.message
        if encoding is not None:
            message += " (encodage réglé par adapters.csv_roster.encoding)"
        raise InputError(message, path=path, line=exc.line) from exc


def _problem(
    message: str, path: Path, line: int, column: str | None = None
) -> RowProblem:
    return RowProblem(
        source=SOURCE, message=message, path=path, line=line, column=column
    )


# --- Records to domain objects ---------------------------------------------------------------


def _patient_from(row: _Row, date_format: str) -> Patient:
    """The patient of a roster record; meaningless when `row.problems` is not empty."""
    return Patient(
        patient_id=row.take("patient_id", _required, ""),
        source=SOURCE,
        ins=row.take("ins", _ins, None),
        nom=row.cells["nom"],
        prenom=row.cells["prenom"],
        birth_date=row.take("date_naissance", _date_parser(date_format), None),
        sex=row.take("sexe", _sex, None),
        ald=row.take("ald", _ald, frozenset()),
        conditions=row.take("conditions", _conditions, frozenset()),
        flags=row.take("flags", _flags, frozenset()),
        opposition=row.take("opposition", _opposition, False),
        c2s=row.take("c2s", _c2s, False),
        mssante=row.cells["mssante"] or None,
        email=row.cells["email"] or None,
        telephone=row.cells["telephone"] or None,
    )


def _act_from(row: _Row, date_format: str) -> Act:
    """The act of an acts record; meaningless when `row.problems` is not empty."""
    return Act(
        patient_id=row.take("patient_id", _required, ""),
        date=row.take("date", _date_parser(date_format), date.min),
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


def _date_parser(date_format: str) -> Callable[[str, str], date]:
    def parse(text: str, column: str) -> date:
        try:
            return csv_format.parse_date(text, date_format)
        except csv_format.BadDate as exc:
            raise _BadCell(f"date « {column} » {exc}") from None

    return parse


def _sex(text: str, column: str) -> Sex:
    sex = _SEXES.get(csv_format.fold_name(text))
    if sex is None:
        raise _BadCell(f"sexe « {column} » invalide, attendu F ou M (H pour homme)")
    return sex


def _opposition(text: str, column: str) -> bool:
    value = _OPPOSITION.get(csv_format.fold_name(text))
    if value is None:
        raise _BadCell(f"« {column} » invalide, attendu 0 ou 1 (non ou oui)")
    return value


def _c2s(text: str, column: str) -> bool:
    value = _C2S.get(csv_format.fold_name(text))
    if value is None:
        raise _BadCell(f"« {column} » invalide, attendu 0 ou 1 (non ou oui), ou vide")
    return value


def _ald(text: str, column: str) -> frozenset[int]:
    numbers = set()
    for item in _items(text):
        if not item.isascii() or not item.isdigit() or int(item) not in ALD_NUMBERS:
            raise _BadCell(
                f"numéro d'ALD invalide dans « {column} », "
                "attendu des entiers de 1 à 32 séparés par « ; » ou « , »"
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
                "attendu par exemple E11 ou E11.9, séparés par « ; » ou « , »"
            )
        category, detail = match.groups()
        codes.add(f"{category}.{detail}" if detail else category)
    return frozenset(codes)


def _flags(text: str, column: str) -> frozenset[str]:
    flags = frozenset(_items(text.lower()))
    if not all(_FLAG.fullmatch(flag) for flag in flags):
        raise _BadCell(
            f"indicateur invalide dans « {column} », "
            "attendu par exemple risk:grippe, séparés par « ; » ou « , »"
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
    """The non-empty items of a `;`-separated list (`,` and `|` too; a trailing one is fine)."""
    return [item.strip() for item in _LIST_SEPARATORS.split(text) if item.strip()]
