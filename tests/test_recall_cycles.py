"""Recall cycles stay the same from one day to the next: never the same letter twice.

The engine's `period_start` names the due period of every status; for an act never done
whose due date is the evaluation date (pneumo "dose unique", MRC or HbA1c of a patient with
a condition), it is the day the patient entered the population or the current year of age,
never `as_of`. The planner names cycles after it, and the outbox's older, moving cycle names
still count.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest

from fmt_plugin.installation import open_installation
from fmt_plugin.model import Patient
from fmt_plugin.recalls.jobs import run_delivery, run_planning
from fmt_plugin.recalls.model import Audience, DueItem, PlannedRecall
from fmt_plugin.rules import load_default_pack
from fmt_plugin.rules.engine import evaluate
from fmt_plugin.rules.model import Evidence, EvidenceSource, Status
from fmt_plugin.timezone import PARIS

PACK = load_default_pack()
MONDAY = date(2026, 3, 16)


def patient(**fields) -> Patient:
    defaults = {"patient_id": "P1", "source": "test", "birth_date": date(1960, 6, 1)}
    return Patient(**(defaults | fields))


def lab(on: date, loinc: str) -> Evidence:
    return Evidence(on, "LOINC", loinc, EvidenceSource.HL7, result_status="F")


def status_on(person: Patient, indicator: str, on: date, evidence=()):
    return evaluate(PACK, person, evidence, (), on).statuses[indicator]


def test_pneumo_never_done_starts_its_period_at_the_18th_birthday():
    """Due every day, but the period began when the patient entered the population."""
    person = patient(ald=frozenset({8}))
    first = status_on(person, "vacc_pneumo", MONDAY)
    assert (first.status, first.due) == (Status.A_VERIFIER, MONDAY)
    assert first.period_start == date(1978, 6, 1)


@pytest.mark.parametrize("indicator", ["vacc_pneumo", "dep_mrc", "suivi_hba1c"])
def test_a_never_done_period_is_the_same_on_consecutive_days(indicator):
    """Three consecutive days give one period start, while the due date moves."""
    person = patient(ald=frozenset({8}), conditions=frozenset({"E11.9"}))
    days = [MONDAY + timedelta(days=n) for n in range(3)]
    statuses = [status_on(person, indicator, day) for day in days]
    assert [s.due for s in statuses] == days
    assert len({s.period_start for s in statuses}) == 1


def test_mrc_never_done_of_a_hypertensive_starts_at_the_last_birthday():
    """A population by condition has no entry date: the current year of age is the period."""
    person = patient(conditions=frozenset({"I10"}))
    assert status_on(person, "dep_mrc", MONDAY).period_start == date(2025, 6, 1)
    after_birthday = status_on(person, "dep_mrc", date(2026, 6, 1))
    assert after_birthday.period_start == date(2026, 6, 1)


def test_mrc_partly_done_starts_at_the_earliest_stable_start_of_its_parts():
    """A lapsed créatininémie and never-done urine analyses: the year of age, earlier."""
    person = patient(conditions=frozenset({"I10"}))
    status = status_on(person, "dep_mrc", MONDAY, [lab(date(2025, 3, 1), "2160-0")])
    assert status.due == date(2026, 3, 1)
    assert status.period_start == date(2025, 6, 1)


def test_a_lapsed_screening_starts_its_period_at_the_expiry():
    """A FIT two years old fell due on its second anniversary."""
    person = patient()
    status = status_on(
        person, "dep_colorectal", MONDAY, [lab(date(2024, 1, 5), "29771-3")]
    )
    assert (status.due, status.period_start) == (date(2026, 1, 5), date(2026, 1, 5))


def test_a_screening_never_done_starts_at_the_entry_birthday():
    """Colorectal never done: due, and period, since the 50th birthday."""
    status = status_on(patient(), "dep_colorectal", MONDAY)
    assert (status.due, status.period_start) == (date(2010, 6, 1), date(2010, 6, 1))


def test_a_fait_status_names_the_period_its_expiry_opens():
    """The due-soon recall of a `fait` and the later `a_verifier` share one period."""
    fit = [lab(date(2024, 4, 1), "29771-3")]
    before = status_on(patient(), "dep_colorectal", MONDAY, fit)
    after = status_on(patient(), "dep_colorectal", date(2026, 4, 2), fit)
    assert before.status is Status.FAIT
    assert after.status is Status.A_VERIFIER
    assert before.period_start == after.period_start == date(2026, 4, 1)


def test_without_a_birth_date_the_period_of_an_act_due_now_is_unknown():
    """No birth date, no entry date: None, which the planner names by a fixed cycle."""
    person = patient(birth_date=None, conditions=frozenset({"I10"}))
    assert status_on(person, "dep_mrc", MONDAY).period_start is None


# --- the scheduled jobs, day after day, on the public scenario ---------------------------


def at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), PARIS)


def outbox_items(config: Path) -> list[tuple[str, str, str, int]]:
    with open_installation(config) as installation:
        return [
            (p.patient_id, p.indicator, p.cycle, p.step)
            for p in installation.store.outbox.history()
        ]


def test_three_consecutive_days_send_the_never_done_pneumo_once(scenario_config):
    """Q06's pneumo (ALD 8, never vaccinated) is written to on the first day only."""
    for offset in range(3):
        day = MONDAY + timedelta(days=offset)
        run_planning(scenario_config, at(day, 7))
        run_delivery(scenario_config, at(day, 10))
    pneumo = [
        i for i in outbox_items(scenario_config) if i[:2] == ("Q06", "vacc_pneumo")
    ]
    assert pneumo == [("Q06", "vacc_pneumo", "1966-08-08", 1)]


def test_later_days_queue_nothing_new_for_unchanged_records(scenario_config):
    """After the first planning, the next two working days add no message."""
    first = run_planning(scenario_config, at(MONDAY, 7))
    run_delivery(scenario_config, at(MONDAY, 10))
    later = [
        run_planning(scenario_config, at(MONDAY + timedelta(days=n), 7)) for n in (1, 2)
    ]
    assert first
    assert later == [[], []]


def legacy_recall(patient_id: str, indicator: str, cycle: str) -> PlannedRecall:
    """A recall as the previous release recorded it, its cycle the day it was planned."""
    item = DueItem(
        indicator, "", cycle, 1, Status.A_VERIFIER, date.fromisoformat(cycle)
    )
    return PlannedRecall(patient_id, Audience.PATIENT, (item,))


def test_recalls_recorded_under_moving_cycles_cause_no_new_wave(scenario_config):
    """Two pneumo letters of the old release, weeks ago: no third one after the upgrade."""
    with open_installation(scenario_config) as installation:
        outbox = installation.store.outbox
        for day in (date(2026, 1, 12), date(2026, 1, 13)):
            [recall_id] = outbox.add_planned(
                [legacy_recall("Q06", "vacc_pneumo", day.isoformat())],
                now=at(day, 7),
                message_id_domain="cabinet.test",
            )
            outbox.mark_sending(recall_id, channel="file", now=at(day, 10))
            outbox.mark_sent(recall_id, now=at(day, 10))
    run_planning(scenario_config, at(MONDAY, 7))
    pneumo = [
        i for i in outbox_items(scenario_config) if i[:2] == ("Q06", "vacc_pneumo")
    ]
    assert [cycle for _, _, cycle, _ in pneumo] == ["2026-01-12", "2026-01-13"]
