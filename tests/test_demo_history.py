"""The demo practice's history and its HL7 messages: reproducible, dated, and a believable mix."""

from __future__ import annotations

from datetime import date

import pytest

from fmt_plugin.demo.history import HISTORY_MONTHS
from fmt_plugin.demo.hl7_messages import history_messages
from fmt_plugin.demo.practice import DemoPractice, DemoSettings, draw_practice
from fmt_plugin.hl7.er7 import parse_message
from fmt_plugin.hl7.extract import extract_content
from fmt_plugin.rules import Evidence, EvidenceSource, evaluate
from fmt_plugin.rules.dates import add_months
from fmt_plugin.rules.pack import load_default_pack
from fmt_plugin.rules.rates import compute_rates

REFERENCE = date(2026, 3, 15)
START = add_months(REFERENCE, -HISTORY_MONTHS)


@pytest.fixture(scope="module")
def practice() -> DemoPractice:
    return draw_practice(DemoSettings(reference_date=REFERENCE))


@pytest.fixture(scope="module")
def messages(practice: DemoPractice) -> list[bytes]:
    return history_messages(practice.hl7_records(), practice.settings.seed)


def evidence_of(practice: DemoPractice, patient_id: str) -> list[Evidence]:
    """What the store and the adapter would give the engine for this patient."""
    history = practice.histories[patient_id]
    found = [
        Evidence(a.date, a.system, a.code, EvidenceSource.EHR) for a in history.acts
    ]
    for report in history.lab_reports:
        for result in report.observations:
            found.append(
                Evidence(
                    report.observed.date(),
                    "LOINC",
                    result.code,
                    EvidenceSource.HL7,
                    result_status=result.status,
                )
            )
    for vaccination in history.vaccinations:
        found.append(
            Evidence(vaccination.given, "CVX", vaccination.cvx, EvidenceSource.HL7)
        )
    return found


def test_same_settings_same_messages(practice, messages):
    """Drawing the practice again gives byte-identical messages (a replay is duplicates)."""
    again = draw_practice(DemoSettings(reference_date=REFERENCE))
    assert history_messages(again.hl7_records(), again.settings.seed) == messages


def test_a_few_thousand_messages_a_few_about_strangers(practice, messages):
    """Thousands of messages; about 1 % concern people outside the roster."""
    assert 2_500 <= len(messages) <= 6_000
    strangers = {p.patient_id for p in practice.strangers}
    about_strangers = sum(
        len(practice.histories[s].lab_reports) + len(practice.histories[s].vaccinations)
        for s in strangers
    )
    assert 0.002 <= about_strangers / len(messages) <= 0.03
    assert not strangers & {p.patient_id for p in practice.roster}


def test_records_stay_within_the_history(practice):
    """Results and acts fall within the three years; only transcriptions are older."""
    for history in practice.histories.values():
        assert all(START < r.observed.date() <= REFERENCE for r in history.lab_reports)
        assert all(START < a.date <= REFERENCE for a in history.acts)
        for vaccination in history.vaccinations:
            assert vaccination.given <= REFERENCE
            assert vaccination.historical == (vaccination.given <= START)


def test_messages_parse_with_unique_control_ids(messages):
    """Each message is an ORU^R01 or VXU^V04 our parser reads, with its own MSH-10."""
    parsed = [parse_message(m) for m in messages]
    assert {(m.message_code, m.trigger_event) for m in parsed} == {
        ("ORU", "R01"),
        ("VXU", "V04"),
    }
    assert len({m.control_id for m in parsed}) == len(messages)
    assert all(extract_content(m).events for m in parsed[:200])


def test_statuses_are_a_believable_mix(practice):
    """Every indicator has patients; most are between a third and nine tenths done."""
    pack = load_default_pack()
    evaluations = [
        evaluate(pack, p, evidence_of(practice, p.patient_id), (), REFERENCE)
        for p in practice.roster
    ]
    rates = compute_rates(pack, evaluations)
    assert len(rates) == 15
    for rate in rates.values():
        assert rate.fait > 0, rate
        assert rate.a_verifier > 0, rate
        assert rate.taux is not None
        assert 0.25 <= rate.taux <= 0.95, rate
    assert sum(0.4 <= r.taux <= 0.75 for r in rates.values() if r.taux) >= 11
    assert sum(rate.exclu > 0 for rate in rates.values()) >= 5
