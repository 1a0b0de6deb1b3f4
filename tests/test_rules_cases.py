"""The rule pack against its cases: every case of tests/rules_cases/*.toml is one test.

Each case file holds the cases of one indicator, written from shared/domain/indicators.md
independently of the engine. The files are validated strictly so that a typo in a key can
never silently turn an expectation off.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from fmt_plugin.model import Patient
from fmt_plugin.rules import (
    Evidence,
    EvidenceSource,
    IndicatorStatus,
    Override,
    OverrideKind,
    Status,
    evaluate,
    load_default_pack,
)

CASES_DIR = Path(__file__).parent / "rules_cases"
PACK = load_default_pack()
PATIENT_ID = "C1"

EXPECTED_STATUSES = frozenset({*(s.value for s in Status), "absent"})
NAME = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)*")
#: Days ahead in which a status is `due_soon` (the default recall horizon).
RECALL_HORIZON_DAYS = 30

FILE_KEYS = {"indicator": True, "cases": True}  # key -> required
CASE_KEYS = {
    "name": True,
    "as_of": True,
    "patient": True,
    "expect": True,
    "evidence": False,
    "overrides": False,
    "due": False,
    "refused": False,
    "recall_postponed_until": False,
    "overdue_days": False,
    "due_soon": False,
    "evidence_codes": False,
    "evidence_sources": False,
}
#: The case keys that state an expectation on a listed status (meaningless for "absent").
DETAIL_KEYS = (
    "due",
    "refused",
    "recall_postponed_until",
    "overdue_days",
    "due_soon",
    "evidence_codes",
    "evidence_sources",
)
PATIENT_KEYS = {
    "birth_date": True,
    "sex": True,
    "ald": False,
    "conditions": False,
    "flags": False,
}
EVIDENCE_KEYS = {
    "date": True,
    "system": True,
    "code": True,
    "source": True,
    "result_status": False,
    "indicator": False,
    "label": False,
}
OVERRIDE_KEYS = {
    "kind": True,
    "recorded_on": True,
    "expires": False,
    "date": False,
    "indicator": False,
    "reason": False,
}


class CaseError(Exception):
    """A case file or a case that cannot be run as written; the message names both."""


@dataclass(frozen=True)
class Case:
    """One evaluation to run and what must come out of it."""

    path: Path
    indicator: str
    name: str
    as_of: date
    patient: Patient
    evidence: tuple[Evidence, ...]
    overrides: tuple[Override, ...]
    expect: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.indicator}/{self.name}"


# --- reading and validating the case files ---


def _check_keys(table: Mapping[str, Any], keys: Mapping[str, bool], where: str) -> None:
    unknown = sorted(set(table) - set(keys))
    if unknown:
        raise CaseError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(keys)}")
    missing = sorted(k for k, required in keys.items() if required and k not in table)
    if missing:
        raise CaseError(f"{where}: missing key(s) {missing}")


def _date(value: Any, where: str) -> date:
    # tomllib gives a datetime for a local date-time, and datetime is a date subclass.
    if not isinstance(value, date) or isinstance(value, datetime):
        raise CaseError(f"{where}: expected a TOML date (YYYY-MM-DD), got {value!r}")
    return value


def _optional_date(value: Any, where: str) -> date | None:
    if value is None or value == "none":
        return None
    return _date(value, where)


def _str(value: Any, where: str, choices: frozenset[str] | None = None) -> str:
    if not isinstance(value, str):
        raise CaseError(f"{where}: expected a string, got {value!r}")
    if choices is not None and value not in choices:
        raise CaseError(f"{where}: {value!r} is not one of {sorted(choices)}")
    return value


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise CaseError(f"{where}: expected true or false, got {value!r}")
    return value


def _list(value: Any, where: str, item: Callable[[Any, str], Any]) -> list[Any]:
    if not isinstance(value, list):
        raise CaseError(f"{where}: expected an array, got {value!r}")
    return [item(v, f"{where}[{i}]") for i, v in enumerate(value)]


def _int(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise CaseError(f"{where}: expected an integer, got {value!r}")
    return value


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CaseError(f"{where}: expected a table, got {value!r}")
    return value


def _patient(raw: Any, where: str) -> Patient:
    table = _table(raw, where)
    _check_keys(table, PATIENT_KEYS, where)
    sex = _str(table["sex"], f"{where}.sex", frozenset({"F", "M"}))
    return Patient(
        patient_id=PATIENT_ID,
        source="case",
        birth_date=_date(table["birth_date"], f"{where}.birth_date"),
        sex="F" if sex == "F" else "M",
        ald=frozenset(_list(table.get("ald", []), f"{where}.ald", _int)),
        conditions=frozenset(
            _list(table.get("conditions", []), f"{where}.conditions", _str)
        ),
        flags=frozenset(_list(table.get("flags", []), f"{where}.flags", _str)),
    )


def _evidence(raw: Any, where: str) -> Evidence:
    table = _table(raw, where)
    _check_keys(table, EVIDENCE_KEYS, where)
    sources = frozenset(s.value for s in EvidenceSource)
    status = table.get("result_status")
    if status is not None:
        status = _str(status, f"{where}.result_status")
    indicator = table.get("indicator")
    if indicator is not None:
        indicator = _str(indicator, f"{where}.indicator", frozenset(PACK.indicator_ids))
    return Evidence(
        date=_date(table["date"], f"{where}.date"),
        system=_str(table["system"], f"{where}.system"),
        code=_str(table["code"], f"{where}.code"),
        source=EvidenceSource(_str(table["source"], f"{where}.source", sources)),
        label=_str(table.get("label", ""), f"{where}.label"),
        result_status=status,
        indicator=indicator,
    )


def _override(raw: Any, where: str, indicator: str) -> Override:
    table = _table(raw, where)
    _check_keys(table, OVERRIDE_KEYS, where)
    kinds = frozenset(k.value for k in OverrideKind)
    return Override(
        patient_id=PATIENT_ID,
        indicator=_str(
            table.get("indicator", indicator),
            f"{where}.indicator",
            frozenset(PACK.indicator_ids),
        ),
        kind=OverrideKind(_str(table["kind"], f"{where}.kind", kinds)),
        author="case",
        recorded_on=_date(table["recorded_on"], f"{where}.recorded_on"),
        reason=_str(table.get("reason", ""), f"{where}.reason"),
        date=_optional_date(table.get("date"), f"{where}.date"),
        expires=_optional_date(table.get("expires"), f"{where}.expires"),
    )


def _details(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    checks: dict[str, Any] = {}
    for key in ("due", "recall_postponed_until"):
        if key in table:
            checks[key] = _optional_date(table[key], f"{where}.{key}")
    for key in ("refused", "due_soon"):
        if key in table:
            checks[key] = _bool(table[key], f"{where}.{key}")
    if "overdue_days" in table:
        checks["overdue_days"] = _int(table["overdue_days"], f"{where}.overdue_days")
    if "evidence_codes" in table:
        checks["evidence_codes"] = _list(
            table["evidence_codes"], f"{where}.evidence_codes", _str
        )
    if "evidence_sources" in table:
        sources = frozenset(s.value for s in EvidenceSource)
        checks["evidence_sources"] = _list(
            table["evidence_sources"],
            f"{where}.evidence_sources",
            lambda v, w: _str(v, w, sources),
        )
    return checks


def _case(raw: Any, path: Path, indicator: str, index: int) -> Case:
    where = f"{path.name}: cases[{index}]"
    table = _table(raw, where)
    if isinstance(table.get("name"), str):
        where = f"{path.name}: case {table['name']!r}"
    _check_keys(table, CASE_KEYS, where)
    name = _str(table["name"], f"{where}.name")
    if not NAME.fullmatch(name):
        raise CaseError(f"{where}: the name must be snake_case")
    expect = _str(table["expect"], f"{where}.expect", EXPECTED_STATUSES)
    details = _details(table, where)
    if expect == "absent" and details:
        raise CaseError(
            f"{where}: an absent status has no details, remove {sorted(details)}"
        )
    return Case(
        path=path,
        indicator=indicator,
        name=name,
        as_of=_date(table["as_of"], f"{where}.as_of"),
        patient=_patient(table["patient"], f"{where}.patient"),
        evidence=tuple(
            _list(table.get("evidence", []), f"{where}.evidence", _evidence)
        ),
        overrides=tuple(
            _list(
                table.get("overrides", []),
                f"{where}.overrides",
                lambda v, w: _override(v, w, indicator),
            )
        ),
        expect=expect,
        details=details,
    )


def read_case_file(path: Path) -> list[Case | CaseError]:
    """The cases of one file, each either runnable or the error that stops it.

    A problem with the file as a whole comes back as a single error; a bad case does not
    hide the good ones of the same file.
    """
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        return [CaseError(f"{path.name}: not valid TOML: {exc}")]
    try:
        _check_keys(data, FILE_KEYS, path.name)
        indicator = _str(
            data["indicator"], f"{path.name}: indicator", frozenset(PACK.indicator_ids)
        )
        if path.stem != indicator:
            raise CaseError(f"{path.name}: the file must be named {indicator}.toml")
        raw_cases = data["cases"]
        if not isinstance(raw_cases, list) or not raw_cases:
            raise CaseError(f"{path.name}: cases must be a non-empty array of tables")
    except CaseError as exc:
        return [exc]
    results: list[Case | CaseError] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_cases):
        try:
            case = _case(raw, path, indicator, index)
        except CaseError as exc:
            results.append(exc)
            continue
        if case.name in seen:
            results.append(
                CaseError(f"{path.name}: case {case.name!r}: duplicate case name")
            )
            continue
        seen.add(case.name)
        results.append(case)
    return results


def _params() -> list[Any]:
    params = []
    for path in sorted(CASES_DIR.glob("*.toml")):
        for number, item in enumerate(read_case_file(path)):
            if isinstance(item, Case):
                params.append(pytest.param(item, id=item.id))
            else:
                params.append(pytest.param(item, id=f"{path.stem}/invalid-{number}"))
    return params


# --- running a case ---


def _observed(status: IndicatorStatus, keys: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {
        "status": status.status.value,
        "due": status.due,
        "refused": status.refused,
        "recall_postponed_until": status.recall_postponed_until,
        "overdue_days": status.overdue_days,
        "due_soon": status.due_soon,
        "evidence_codes": [e.code for e in status.evidence],
        "evidence_sources": [e.source.value for e in status.evidence],
    }
    return {key: values[key] for key in keys}


def _invariant_problems(status: IndicatorStatus, as_of: date) -> list[str]:
    """What in `status` contradicts the definitions of indicators.md §2, whatever the case."""
    problems = []
    kind = status.status
    if kind is Status.A_VERIFIER:
        if status.due is None or status.due > as_of:
            problems.append(f"a_verifier needs due <= as_of, due is {status.due}")
        elif status.overdue_days != (as_of - status.due).days:
            problems.append(
                f"overdue_days {status.overdue_days} != as_of - due "
                f"({(as_of - status.due).days})"
            )
    if kind is Status.A_VENIR and (status.due is None or status.due <= as_of):
        problems.append(f"a_venir needs due > as_of, due is {status.due}")
    soon = (
        kind in (Status.FAIT, Status.A_VENIR)
        and status.due is not None
        and 0 < (status.due - as_of).days <= RECALL_HORIZON_DAYS
    )
    if status.due_soon != soon:
        problems.append(f"due_soon is {status.due_soon}, the definition gives {soon}")
    dates = [e.date for e in status.evidence]
    if dates != sorted(dates, reverse=True):
        problems.append(f"evidence is not newest first: {dates}")
    return problems


@pytest.mark.parametrize("case", _params())
def test_rule_case(case: Case | CaseError) -> None:
    """The engine gives the status and details the case file expects."""
    if isinstance(case, CaseError):
        raise case
    result = evaluate(
        PACK, case.patient, list(case.evidence), list(case.overrides), case.as_of
    )
    status = result.statuses.get(case.indicator)
    if case.expect == "absent":
        assert status is None, (
            f"expected absent, got {status.status.value} (due {status.due}, "
            f"reason {status.reason!r})"
        )
        return
    assert status is not None, f"expected {case.expect}, got absent"
    assert status.indicator == case.indicator
    expected = {"status": case.expect, **case.details}
    observed = _observed(status, list(expected))
    assert observed == expected, f"engine reason: {status.reason!r}"
    problems = _invariant_problems(status, case.as_of)
    assert not problems, f"status breaks indicators.md §2: {problems}"


# --- the case files themselves ---


def test_every_indicator_of_the_pack_has_a_case_file() -> None:
    """Each of the pack's indicators has its own case file, and no file is left over."""
    stems = {path.stem for path in CASES_DIR.glob("*.toml")}
    assert stems == set(PACK.indicator_ids)


def _write(tmp_path: Path, body: str, name: str = "dep_sein.toml") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


GOOD_CASE = """
[[cases]]
name = "a_case"
as_of = 2026-03-15
patient = { birth_date = 1960-05-01, sex = "F" }
expect = "a_verifier"
"""


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            'indicator = "dep_sein"\nextra = 1\n' + GOOD_CASE,
            "dep_sein.toml: unknown key(s) ['extra']",
        ),
        (
            'indicator = "dep_unknown"\n' + GOOD_CASE,
            "dep_sein.toml: indicator: 'dep_unknown' is not one of",
        ),
        (
            'indicator = "dep_sein"\n' + GOOD_CASE + "du = 2026-03-15\n",
            "dep_sein.toml: case 'a_case': unknown key(s) ['du']",
        ),
        (
            'indicator = "dep_sein"\n'
            + GOOD_CASE.replace('sex = "F"', 'sex = "F", ald2 = [8]'),
            "dep_sein.toml: case 'a_case'.patient: unknown key(s) ['ald2']",
        ),
        (
            'indicator = "dep_sein"\n'
            + GOOD_CASE
            + 'evidence = [{ date = 2025-01-01, system = "CCAM", code = "QEQK004",'
            ' source = "ehr", status = "F" }]\n',
            "dep_sein.toml: case 'a_case'.evidence[0]: unknown key(s) ['status']",
        ),
        (
            'indicator = "dep_sein"\n'
            + GOOD_CASE
            + 'overrides = [{ kind = "refus", recorded_on = 2025-01-01,'
            " until = 2026-01-01 }]\n",
            "dep_sein.toml: case 'a_case'.overrides[0]: unknown key(s) ['until']",
        ),
        (
            'indicator = "dep_sein"\n' + GOOD_CASE + GOOD_CASE,
            "dep_sein.toml: case 'a_case': duplicate case name",
        ),
        (
            'indicator = "dep_sein"\n'
            + GOOD_CASE.replace("a_verifier", "absent")
            # An absent indicator has no due: stating one is a mistake in the case.
            + "due = 2026-03-15\n",
            "dep_sein.toml: case 'a_case': an absent status has no details",
        ),
    ],
    ids=[
        "file_key",
        "indicator",
        "case_key",
        "patient_key",
        "evidence_key",
        "override_key",
        "duplicate_name",
        "absent_with_details",
    ],
)
def test_invalid_case_file_is_reported_by_file_and_case(
    tmp_path: Path, body: str, message: str
) -> None:
    """A mistake in a case file becomes an error that names the file and the case."""
    errors = [
        item
        for item in read_case_file(_write(tmp_path, body))
        if isinstance(item, CaseError)
    ]
    assert len(errors) == 1
    assert message in str(errors[0])


def test_file_must_be_named_after_its_indicator(tmp_path: Path) -> None:
    """A case file whose name differs from its indicator is refused."""
    path = _write(tmp_path, 'indicator = "dep_sein"\n' + GOOD_CASE, "sein.toml")
    (error,) = read_case_file(path)
    assert isinstance(error, CaseError)
    assert "must be named dep_sein.toml" in str(error)
