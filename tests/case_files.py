"""Strict reading of TOML case files: typed values, known keys, errors naming file, case and key.

A case file is a table with a non-empty `cases` array of tables, each with a snake_case
`name`. The readers here raise a `CaseError` whose message starts with a `where` such as
`dep_sein.toml: case 'a_case'.patient.sex`, so that a typo in a key can never silently turn an
expectation off and a broken case says exactly where it is broken.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pytest

CaseT = TypeVar("CaseT")
NAME = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)*")


class CaseError(Exception):
    """A case file or a case that cannot be run as written; the message names both."""


class IdentifiedCase(Protocol):
    """A runnable case: its `id` becomes the pytest parameter id."""

    @property
    def id(self) -> str: ...


@dataclass(frozen=True)
class CaseFile:
    """A case file whose top-level keys were checked: its path and its whole table."""

    path: Path
    data: dict[str, Any]


# --- typed values ---


def check_keys(table: Mapping[str, Any], keys: Mapping[str, bool], where: str) -> None:
    """Refuse keys not in `keys` (key -> required) and required keys that are missing."""
    unknown = sorted(set(table) - set(keys))
    if unknown:
        raise CaseError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(keys)}")
    missing = sorted(k for k, required in keys.items() if required and k not in table)
    if missing:
        raise CaseError(f"{where}: missing key(s) {missing}")


def as_table(
    value: Any, where: str, keys: Mapping[str, bool] | None = None
) -> dict[str, Any]:
    """`value` as a TOML table, its keys checked against `keys` when given."""
    if not isinstance(value, dict):
        raise CaseError(f"{where}: expected a table, got {value!r}")
    if keys is not None:
        check_keys(value, keys, where)
    return value


def as_date(value: Any, where: str) -> date:
    """`value` as a TOML local date."""
    # tomllib gives a datetime for a local date-time, and datetime is a date subclass.
    if not isinstance(value, date) or isinstance(value, datetime):
        raise CaseError(f"{where}: expected a TOML date (YYYY-MM-DD), got {value!r}")
    return value


def as_str(value: Any, where: str, choices: frozenset[str] | None = None) -> str:
    """`value` as a string, one of `choices` when given."""
    if not isinstance(value, str):
        raise CaseError(f"{where}: expected a string, got {value!r}")
    if choices is not None and value not in choices:
        raise CaseError(f"{where}: {value!r} is not one of {sorted(choices)}")
    return value


def as_bool(value: Any, where: str) -> bool:
    """`value` as a boolean."""
    if not isinstance(value, bool):
        raise CaseError(f"{where}: expected true or false, got {value!r}")
    return value


def as_int(value: Any, where: str) -> int:
    """`value` as an integer (a boolean is not one, although Python says so)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise CaseError(f"{where}: expected an integer, got {value!r}")
    return value


def as_list(value: Any, where: str, item: Callable[[Any, str], Any]) -> list[Any]:
    """`value` as an array, each element read by `item` with its index in `where`."""
    if not isinstance(value, list):
        raise CaseError(f"{where}: expected an array, got {value!r}")
    return [item(v, f"{where}[{i}]") for i, v in enumerate(value)]


# --- whole files ---


def _load(
    path: Path,
    file_keys: Mapping[str, bool],
    file_check: Callable[[CaseFile], None] | None,
) -> tuple[CaseFile, list[Any]]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise CaseError(f"{path.name}: not valid TOML: {exc}") from exc
    check_keys(data, file_keys, path.name)
    case_file = CaseFile(path, data)
    if file_check is not None:
        file_check(case_file)
    raw_cases = data["cases"]
    if not isinstance(raw_cases, list) or not raw_cases:
        raise CaseError(f"{path.name}: cases must be a non-empty array of tables")
    return case_file, raw_cases


def _named_case(
    raw: Any, index: int, path: Path, case_keys: Mapping[str, bool]
) -> tuple[dict[str, Any], str, str]:
    """The case's table, its `where` (by name once it has one) and its checked name."""
    where = f"{path.name}: cases[{index}]"
    if isinstance(raw, dict) and isinstance(raw.get("name"), str):
        where = f"{path.name}: case {raw['name']!r}"
    table = as_table(raw, where, case_keys)
    name = as_str(table["name"], f"{where}.name")
    if not NAME.fullmatch(name):
        raise CaseError(f"{where}: the name must be snake_case")
    return table, where, name


def read_cases(
    path: Path,
    build_case: Callable[[CaseFile, dict[str, Any], str], CaseT],
    *,
    file_keys: Mapping[str, bool],
    case_keys: Mapping[str, bool],
    file_check: Callable[[CaseFile], None] | None = None,
) -> list[CaseT | CaseError]:
    """The cases of one file, each either runnable or the error that stops it.

    `file_keys` and `case_keys` (key -> required; both require `cases` and `name`) are
    checked here, then `file_check` checks the rest of the file and
    `build_case(file, case_table, where)` turns one case into what the test runs. A problem
    with the file as a whole comes back as a single error; a bad case does not hide the
    good ones of the same file, and a second case of the same name is an error.
    """
    try:
        case_file, raw_cases = _load(path, file_keys, file_check)
    except CaseError as exc:
        return [exc]
    results: list[CaseT | CaseError] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_cases):
        try:
            table, where, name = _named_case(raw, index, path, case_keys)
            case = build_case(case_file, table, where)
        except CaseError as exc:
            results.append(exc)
            continue
        if name in seen:
            results.append(CaseError(f"{where}: duplicate case name"))
            continue
        seen.add(name)
        results.append(case)
    return results


def case_params(
    folder: Path, reader: Callable[[Path], Sequence[IdentifiedCase | CaseError]]
) -> list[Any]:
    """One pytest parameter per case of `folder/*.toml`, a broken one included as its error."""
    params = []
    for path in sorted(folder.glob("*.toml")):
        for number, item in enumerate(reader(path)):
            if isinstance(item, CaseError):
                params.append(pytest.param(item, id=f"{path.stem}/invalid-{number}"))
            else:
                params.append(pytest.param(item, id=item.id))
    return params


def write_case_file(folder: Path, body: str, name: str = "cases.toml") -> Path:
    """Write `body` as the case file `folder/name`, for tests of the readers themselves."""
    path = folder / name
    path.write_text(body, encoding="utf-8")
    return path
