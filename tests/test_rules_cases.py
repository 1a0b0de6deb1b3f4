"""The rule pack against its cases: every case of tests/rules_cases/*.toml is one test.

Each case file holds the cases of one indicator, written from shared/domain/indicators.md
independently of the engine. The files are validated strictly so that a typo in a key can
never silently turn an expectation off.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from case_files import (
    CaseError,
    CaseFile,
    as_bool,
    as_date,
    as_int,
    as_list,
    as_str,
    as_table,
    case_params,
    read_cases,
    write_case_file,
)

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
    "reason": False,
    "hors_fmt": False,
    "catch_up": False,
    "window_closed": False,
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
    "reason",
    "hors_fmt",
    "catch_up",
    "window_closed",
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


def _optional_date(value: Any, where: str) -> date | None:
    if value is None or value == "none":
        return None
    return as_date(value, where)


def _patient(raw: Any, where: str) -> Patient:
    table = as_table(raw, where, PATIENT_KEYS)
    sex = as_str(table["sex"], f"{where}.sex", frozenset({"F", "M"}))
    return Patient(
        patient_id=PATIENT_ID,
        source="case",
        birth_date=as_date(table["birth_date"], f"{where}.birth_date"),
        sex="F" if sex == "F" else "M",
        ald=frozenset(as_list(table.get("ald", []), f"{where}.ald", as_int)),
        conditions=frozenset(
            as_list(table.get("conditions", []), f"{where}.conditions", as_str)
        ),
        flags=frozenset(as_list(table.get("flags", []), f"{where}.flags", as_str)),
    )


def _evidence(raw: Any, where: str) -> Evidence:
    table = as_table(raw, where, EVIDENCE_KEYS)
    sources = frozenset(s.value for s in EvidenceSource)
    status = table.get("result_status")
    if status is not None:
        status = as_str(status, f"{where}.result_status")
    indicator = table.get("indicator")
    if indicator is not None:
        indicator = as_str(
            indicator, f"{where}.indicator", frozenset(PACK.indicator_ids)
        )
    return Evidence(
        date=as_date(table["date"], f"{where}.date"),
        system=as_str(table["system"], f"{where}.system"),
        code=as_str(table["code"], f"{where}.code"),
        source=EvidenceSource(as_str(table["source"], f"{where}.source", sources)),
        label=as_str(table.get("label", ""), f"{where}.label"),
        result_status=status,
        indicator=indicator,
    )


def _override(raw: Any, where: str, indicator: str) -> Override:
    table = as_table(raw, where, OVERRIDE_KEYS)
    kinds = frozenset(k.value for k in OverrideKind)
    return Override(
        patient_id=PATIENT_ID,
        indicator=as_str(
            table.get("indicator", indicator),
            f"{where}.indicator",
            frozenset(PACK.indicator_ids),
        ),
        kind=OverrideKind(as_str(table["kind"], f"{where}.kind", kinds)),
        author="case",
        recorded_on=as_date(table["recorded_on"], f"{where}.recorded_on"),
        reason=as_str(table.get("reason", ""), f"{where}.reason"),
        date=_optional_date(table.get("date"), f"{where}.date"),
        expires=_optional_date(table.get("expires"), f"{where}.expires"),
    )


def _details(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    checks: dict[str, Any] = {}
    for key in ("due", "recall_postponed_until", "window_closed"):
        if key in table:
            checks[key] = _optional_date(table[key], f"{where}.{key}")
    for key in ("refused", "due_soon", "hors_fmt", "catch_up"):
        if key in table:
            checks[key] = as_bool(table[key], f"{where}.{key}")
    if "overdue_days" in table:
        checks["overdue_days"] = as_int(table["overdue_days"], f"{where}.overdue_days")
    if "evidence_codes" in table:
        checks["evidence_codes"] = as_list(
            table["evidence_codes"], f"{where}.evidence_codes", as_str
        )
    if "reason" in table:
        checks["reason"] = as_str(table["reason"], f"{where}.reason")
    if "evidence_sources" in table:
        sources = frozenset(s.value for s in EvidenceSource)
        checks["evidence_sources"] = as_list(
            table["evidence_sources"],
            f"{where}.evidence_sources",
            lambda v, w: as_str(v, w, sources),
        )
    return checks


def _case(file: CaseFile, table: dict[str, Any], where: str) -> Case:
    expect = as_str(table["expect"], f"{where}.expect", EXPECTED_STATUSES)
    details = _details(table, where)
    if expect == "absent" and details:
        raise CaseError(
            f"{where}: an absent status has no details, remove {sorted(details)}"
        )
    indicator = file.data["indicator"]
    return Case(
        path=file.path,
        indicator=indicator,
        name=table["name"],  # checked by read_cases
        as_of=as_date(table["as_of"], f"{where}.as_of"),
        patient=_patient(table["patient"], f"{where}.patient"),
        evidence=tuple(
            as_list(table.get("evidence", []), f"{where}.evidence", _evidence)
        ),
        overrides=tuple(
            as_list(
                table.get("overrides", []),
                f"{where}.overrides",
                lambda v, w: _override(v, w, indicator),
            )
        ),
        expect=expect,
        details=details,
    )


def _check_file(file: CaseFile) -> None:
    indicator = as_str(
        file.data["indicator"],
        f"{file.path.name}: indicator",
        frozenset(PACK.indicator_ids),
    )
    if file.path.stem != indicator:
        raise CaseError(f"{file.path.name}: the file must be named {indicator}.toml")


def read_case_file(path: Path) -> list[Case | CaseError]:
    """The cases of one file, each either runnable or the error that stops it."""
    return read_cases(
        path,
        _case,
        file_keys=FILE_KEYS,
        case_keys=CASE_KEYS,
        file_check=_check_file,
    )


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
        "reason": status.reason,
        "hors_fmt": status.hors_fmt,
        "catch_up": status.catch_up,
        "window_closed": status.window_closed,
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
    if status.catch_up and kind is not Status.A_VERIFIER:
        problems.append(f"a catch-up is a_verifier, not {kind.value}")
    if status.catch_up != (status.window_closed is not None):
        problems.append(
            f"catch_up {status.catch_up}, window_closed {status.window_closed}"
        )
    dates = [e.date for e in status.evidence]
    if dates != sorted(dates, reverse=True):
        problems.append(f"evidence is not newest first: {dates}")
    return problems


@pytest.mark.parametrize("case", case_params(CASES_DIR, read_case_file))
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
        for item in read_case_file(write_case_file(tmp_path, body, "dep_sein.toml"))
        if isinstance(item, CaseError)
    ]
    assert len(errors) == 1
    assert message in str(errors[0])


def test_file_must_be_named_after_its_indicator(tmp_path: Path) -> None:
    """A case file whose name differs from its indicator is refused."""
    path = write_case_file(
        tmp_path, 'indicator = "dep_sein"\n' + GOOD_CASE, "sein.toml"
    )
    (error,) = read_case_file(path)
    assert isinstance(error, CaseError)
    assert "must be named dep_sein.toml" in str(error)
