"""The recall planner against its cases: every case of tests/recall_cases/*.toml is one test.

Case files give statuses directly (not evidence), so they test the planner's policy
independently of the engine; two tests at the end run the real engine first. The files are
validated strictly so that a typo in a key can never silently turn an expectation off.

A case's defaults keep it short: `patients` defaults to one adult, `P1`; a status or an
outbox item without `patient` belongs to `P1`; `policy` keys default to `RecallPolicy()`;
an expected recall's `audience` defaults to `patient`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
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
from fmt_plugin.recalls.model import (
    Audience,
    DueItem,
    PastRecall,
    PlannedRecall,
    RecallState,
)
from fmt_plugin.recalls.planner import plan_recalls, recall_to_dict
from fmt_plugin.recalls.policy import RecallPolicy
from fmt_plugin.rules import (
    Evidence,
    EvidenceSource,
    IndicatorStatus,
    PatientEvaluation,
    Status,
    evaluate,
    load_default_pack,
)

CASES_DIR = Path(__file__).parent / "recall_cases"
PACK = load_default_pack()
DEFAULT_PATIENT = "P1"
DEFAULT_BIRTH_DATE = date(1970, 1, 1)

FILE_KEYS = {"cases": True}  # key -> required
CASE_KEYS = {
    "name": True,
    "as_of": True,
    "expect": True,
    "policy": False,
    "patients": False,
    "statuses": False,
    "history": False,
}
POLICY_KEYS = {
    "lead_days": False,
    "reminder_after_days": False,
    "min_days_between_messages": False,
    "max_steps": False,
    "adult_age": False,
    "catch_up": False,
}
PATIENT_KEYS = {"id": True, "birth_date": False, "opposition": False}
STATUS_KEYS = {
    "patient": False,
    "indicator": True,
    "status": True,
    "due": False,
    "period_start": False,
    "refused": False,
    "recall_postponed_until": False,
    "catch_up": False,
}
HISTORY_KEYS = {
    "patient": False,
    "indicator": True,
    "cycle": True,
    "step": True,
    "state": True,
    "sent_on": False,
    "attempted_on": False,
}
EXPECT_KEYS = {"patient": True, "audience": False, "items": True}
ITEM_KEYS = {"indicator": True, "cycle": True, "step": True}

INDICATORS = frozenset(PACK.indicator_ids)
STATUSES = frozenset(s.value for s in Status)
STATES = frozenset(s.value for s in RecallState)
AUDIENCES = frozenset(a.value for a in Audience)

#: What a planned recall boils down to: patient, audience, (indicator, cycle, step) items.
Summary = tuple[str, str, tuple[tuple[str, str, int], ...]]


@dataclass(frozen=True)
class Case:
    """One planning run and the recalls that must come out of it."""

    path: Path
    name: str
    as_of: date
    policy: RecallPolicy
    patients: dict[str, Patient]
    evaluations: tuple[PatientEvaluation, ...]
    history: tuple[PastRecall, ...]
    expect: tuple[Summary, ...]

    @property
    def id(self) -> str:
        return f"{self.path.stem}/{self.name}"

    def plan(self, *, reverse_inputs: bool = False) -> list[PlannedRecall]:
        evaluations = list(self.evaluations)
        history = list(self.history)
        if reverse_inputs:
            evaluations.reverse()
            history.reverse()
        return plan_recalls(
            patients=self.patients,
            evaluations=evaluations,
            pack=PACK,
            policy=self.policy,
            history=history,
            as_of=self.as_of,
        )


# --- reading and validating the case files ---


def _optional_date(table: Mapping[str, Any], key: str, where: str) -> date | None:
    return as_date(table[key], f"{where}.{key}") if key in table else None


def _policy(raw: Any, where: str) -> RecallPolicy:
    table = as_table(raw, where, POLICY_KEYS)
    values: dict[str, Any] = {
        k: as_bool(v, f"{where}.{k}") if k == "catch_up" else as_int(v, f"{where}.{k}")
        for k, v in table.items()
    }
    return RecallPolicy(**values)


def _patient(raw: Any, where: str) -> Patient:
    table = as_table(raw, where, PATIENT_KEYS)
    return Patient(
        patient_id=as_str(table["id"], f"{where}.id"),
        source="case",
        birth_date=_optional_date(table, "birth_date", where),
        opposition=as_bool(table.get("opposition", False), f"{where}.opposition"),
    )


def _status(raw: Any, where: str) -> tuple[str, IndicatorStatus]:
    table = as_table(raw, where, STATUS_KEYS)
    status = IndicatorStatus(
        indicator=as_str(table["indicator"], f"{where}.indicator", INDICATORS),
        status=Status(as_str(table["status"], f"{where}.status", STATUSES)),
        due=_optional_date(table, "due", where),
        # The engine gives a fixed due date as the period's start: the cases' default.
        period_start=_optional_date(table, "period_start", where)
        or _optional_date(table, "due", where),
        refused=as_bool(table.get("refused", False), f"{where}.refused"),
        recall_postponed_until=_optional_date(table, "recall_postponed_until", where),
        catch_up=as_bool(table.get("catch_up", False), f"{where}.catch_up"),
    )
    return as_str(table.get("patient", DEFAULT_PATIENT), f"{where}.patient"), status


def _evaluations(raw: Any, where: str, as_of: date) -> tuple[PatientEvaluation, ...]:
    by_patient: dict[str, dict[str, IndicatorStatus]] = {}
    for number, (patient_id, status) in enumerate(as_list(raw, where, _status)):
        statuses = by_patient.setdefault(patient_id, {})
        if status.indicator in statuses:
            raise CaseError(f"{where}[{number}]: {status.indicator} listed twice")
        statuses[status.indicator] = status
    return tuple(
        PatientEvaluation(patient_id, as_of, statuses)
        for patient_id, statuses in by_patient.items()
    )


def _past(raw: Any, where: str) -> PastRecall:
    table = as_table(raw, where, HISTORY_KEYS)
    return PastRecall(
        patient_id=as_str(table.get("patient", DEFAULT_PATIENT), f"{where}.patient"),
        indicator=as_str(table["indicator"], f"{where}.indicator", INDICATORS),
        cycle=as_str(table["cycle"], f"{where}.cycle"),
        step=as_int(table["step"], f"{where}.step"),
        state=RecallState(as_str(table["state"], f"{where}.state", STATES)),
        sent_on=_optional_date(table, "sent_on", where),
        attempted_on=_optional_date(table, "attempted_on", where),
    )


def _item(raw: Any, where: str) -> tuple[str, str, int]:
    table = as_table(raw, where, ITEM_KEYS)
    return (
        as_str(table["indicator"], f"{where}.indicator", INDICATORS),
        as_str(table["cycle"], f"{where}.cycle"),
        as_int(table["step"], f"{where}.step"),
    )


def _expected(raw: Any, where: str) -> Summary:
    table = as_table(raw, where, EXPECT_KEYS)
    items = as_list(table["items"], f"{where}.items", _item)
    if not items:
        raise CaseError(f"{where}.items: a recall has at least one item")
    return (
        as_str(table["patient"], f"{where}.patient"),
        as_str(table.get("audience", "patient"), f"{where}.audience", AUDIENCES),
        tuple(items),
    )


def _case(file: CaseFile, table: dict[str, Any], where: str) -> Case:
    as_of = as_date(table["as_of"], f"{where}.as_of")
    default_patients = [{"id": DEFAULT_PATIENT, "birth_date": DEFAULT_BIRTH_DATE}]
    patients = as_list(
        table.get("patients", default_patients), f"{where}.patients", _patient
    )
    return Case(
        path=file.path,
        name=table["name"],  # checked by read_cases
        as_of=as_of,
        policy=_policy(table.get("policy", {}), f"{where}.policy"),
        patients={p.patient_id: p for p in patients},
        evaluations=_evaluations(table.get("statuses", []), f"{where}.statuses", as_of),
        history=tuple(as_list(table.get("history", []), f"{where}.history", _past)),
        expect=tuple(as_list(table["expect"], f"{where}.expect", _expected)),
    )


def read_case_file(path: Path) -> list[Case | CaseError]:
    """The cases of one file, each either runnable or the error that stops it."""
    return read_cases(path, _case, file_keys=FILE_KEYS, case_keys=CASE_KEYS)


# --- running a case ---


def _summary(recall: PlannedRecall) -> Summary:
    items = tuple((i.indicator, i.cycle, i.step) for i in recall.items)
    return recall.patient_id, recall.audience.value, items


def _item_problems(case: Case, recall: PlannedRecall) -> list[str]:
    """Items whose label, status or due date are not the pack's and the input's."""
    evaluation = next(e for e in case.evaluations if e.patient_id == recall.patient_id)
    problems = []
    for item in recall.items:
        status = evaluation.statuses[item.indicator]
        expected = (PACK.indicator(item.indicator).label, status.status, status.due)
        if (item.label, item.status, item.due) != expected:
            problems.append(f"{item.indicator}: {item} is not {expected}")
    return problems


@pytest.mark.parametrize("case", case_params(CASES_DIR, read_case_file))
def test_recall_case(case: Case | CaseError) -> None:
    """The planner plans exactly the recalls the case file expects."""
    if isinstance(case, CaseError):
        raise case
    recalls = case.plan()
    assert [_summary(r) for r in recalls] == list(case.expect)
    for recall in recalls:
        assert not _item_problems(case, recall)


@pytest.mark.parametrize("case", case_params(CASES_DIR, read_case_file))
def test_recall_case_does_not_depend_on_input_order(case: Case | CaseError) -> None:
    """Evaluations and outbox items given in reverse order give the same plan."""
    if isinstance(case, CaseError):
        raise case
    assert case.plan(reverse_inputs=True) == case.plan()


# --- the case files themselves ---


GOOD_CASE = """
[[cases]]
name = "a_case"
as_of = 2026-03-15
statuses = [{ indicator = "dep_sein", status = "a_verifier", due = 2026-01-10 }]
expect = []
"""


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("extra = 1\n" + GOOD_CASE, "cases.toml: unknown key(s) ['extra']"),
        (GOOD_CASE + "expected = []\n", "case 'a_case': unknown key(s) ['expected']"),
        (
            GOOD_CASE.replace("due =", "du ="),
            "case 'a_case'.statuses[0]: unknown key(s) ['du']",
        ),
        (
            GOOD_CASE.replace("dep_sein", "dep_unknown"),
            "statuses[0].indicator: 'dep_unknown' is not one of",
        ),
        (GOOD_CASE + GOOD_CASE, "case 'a_case': duplicate case name"),
    ],
)
def test_case_file_mistakes_are_reported(
    tmp_path: Path, body: str, message: str
) -> None:
    """A typo in a case file fails with a message naming the file, the case and the key."""
    results = read_case_file(write_case_file(tmp_path, body))
    errors = [str(r) for r in results if isinstance(r, CaseError)]
    assert any(message in error for error in errors), errors


def test_good_case_file_reads(tmp_path: Path) -> None:
    """The case the mistakes above start from reads into one runnable case."""
    assert [type(r) for r in read_case_file(write_case_file(tmp_path, GOOD_CASE))] == [
        Case
    ]


# --- the JSON view ---


def test_recall_to_dict_gives_ids_steps_and_iso_dates_only() -> None:
    """The JSON view lists indicator ids, the highest step and ISO dates, and serializes."""
    recall = PlannedRecall(
        "P1",
        Audience.PARENTS,
        (
            DueItem(
                "vacc_ror",
                "Vaccination ROR",
                "2026-03-01",
                2,
                Status.A_VERIFIER,
                date(2026, 3, 1),
            ),
            DueItem(
                "vacc_hpv", "Vaccination HPV", "sans-echeance", 1, Status.A_VERIFIER
            ),
        ),
    )
    data = recall_to_dict(recall)
    assert data == {
        "patient_id": "P1",
        "indicators": ["vacc_ror", "vacc_hpv"],
        "step": 2,
        "items": [
            {
                "indicator": "vacc_ror",
                "cycle": "2026-03-01",
                "step": 2,
                "status": "a_verifier",
                "due": "2026-03-01",
            },
            {
                "indicator": "vacc_hpv",
                "cycle": "sans-echeance",
                "step": 1,
                "status": "a_verifier",
                "due": None,
            },
        ],
        "audience": "parents",
    }
    assert json.loads(json.dumps(data)) == data


# --- on the real engine's statuses ---


def _plan_one(
    patient: Patient,
    evidence: list[Evidence],
    as_of: date,
    history: tuple[PastRecall, ...] = (),
) -> list[PlannedRecall]:
    evaluation = evaluate(PACK, patient, evidence, [], as_of)
    return plan_recalls(
        patients={patient.patient_id: patient},
        evaluations=[evaluation],
        pack=PACK,
        policy=RecallPolicy(),
        history=history,
        as_of=as_of,
    )


def test_engine_statuses_of_a_woman_of_70_in_the_flu_campaign_are_planned() -> None:
    """A woman of 70 screened for breast cancer is recalled for the rest, in pack order."""
    patient = Patient("E1", "case", birth_date=date(1955, 6, 1), sex="F")
    mammography = Evidence(date(2025, 1, 10), "CCAM", "QEQK004", EvidenceSource.EHR)
    [recall] = _plan_one(patient, [mammography], date(2025, 11, 15))
    assert recall_to_dict(recall) == {
        "patient_id": "E1",
        "indicators": ["vacc_grippe", "vacc_covid", "dep_colorectal", "dep_diabete"],
        "step": 1,
        "items": [
            {
                "indicator": "vacc_grippe",
                "cycle": "saison-2025",
                "step": 1,
                "status": "a_verifier",
                "due": "2025-10-14",
            },
            {
                "indicator": "vacc_covid",
                "cycle": "saison-2025",
                "step": 1,
                "status": "a_verifier",
                "due": "2025-10-14",
            },
            {
                "indicator": "dep_colorectal",
                "cycle": "2005-06-01",
                "step": 1,
                "status": "a_verifier",
                "due": "2005-06-01",
            },
            {
                "indicator": "dep_diabete",
                "cycle": "2000-06-01",
                "step": 1,
                "status": "a_verifier",
                "due": "2000-06-01",
            },
        ],
        "audience": "patient",
    }


def test_engine_fait_nearing_expiry_opens_a_new_cycle_after_a_finished_one() -> None:
    """A FIT expiring in a fortnight starts a new cycle at step 1 after a finished one."""
    patient = Patient("E2", "case", birth_date=date(1960, 5, 1), sex="M")
    fit = Evidence(date(2024, 3, 20), "LOINC", "29771-3", EvidenceSource.HL7)
    old_cycle = (
        PastRecall(
            "E2", "dep_colorectal", "2024-01-10", 1, RecallState.SENT, date(2024, 1, 10)
        ),
        PastRecall(
            "E2", "dep_colorectal", "2024-01-10", 2, RecallState.SENT, date(2024, 2, 9)
        ),
    )
    recalls = _plan_one(patient, [fit], date(2026, 3, 6), old_cycle)
    colorectal = [
        (i.cycle, i.step, i.status)
        for r in recalls
        for i in r.items
        if i.indicator == "dep_colorectal"
    ]
    assert colorectal == [("2026-03-20", 1, Status.FAIT)]


def test_engine_catch_up_keeps_the_cycle_of_before_the_window_closed() -> None:
    """MenACWY never given: the same cycle the day before and after the window closes."""
    patient = Patient("E3", "case", birth_date=date(2025, 12, 1), sex="M")

    def meningo_cycles(as_of: date, policy: RecallPolicy) -> list[str]:
        evaluation = evaluate(PACK, patient, [], [], as_of)
        recalls = plan_recalls(
            patients={"E3": patient},
            evaluations=[evaluation],
            pack=PACK,
            policy=policy,
            history=(),
            as_of=as_of,
        )
        return [
            i.cycle
            for r in recalls
            for i in r.items
            if i.indicator == "vacc_meningo_acwy"
        ]

    before = meningo_cycles(date(2026, 12, 31), RecallPolicy())
    after = meningo_cycles(date(2027, 1, 1), RecallPolicy(catch_up=True))
    assert before == after == ["2026-06-01"]
    assert meningo_cycles(date(2027, 1, 1), RecallPolicy()) == []
