"""90 consecutive days of the scheduled planning and delivery on the demo practice.

1,500 patients, their acts arriving day by day, the 2026 flu campaign opening on the way
(13 October). Every (patient, indicator) pair of the outbox is checked against the recall
invariants; the run itself is `tests/recall_simulation.py`.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import date

import pytest
from recall_simulation import Simulation, simulate

from fmt_plugin.recalls.model import RecallState

pytestmark = pytest.mark.slow

FIRST_DAY = date(2026, 9, 14)  # a Monday, four weeks before the flu campaign
DAYS = 90
#: Indicators whose due date was the evaluation date when never done (moving, before).
DUE_EVERY_DAY = ("vacc_pneumo", "dep_mrc", "suivi_hba1c")


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Simulation:
    return simulate(tmp_path_factory.mktemp("simulation") / "demo", FIRST_DAY, DAYS)


def sent_dates(items) -> list[date]:
    return sorted(item.sent_on for item in items if item.sent_on is not None)


def test_the_simulation_writes_to_patients_and_reminds_them(run):
    """The run is not empty: first recalls, reminders and new cycles all happened."""
    steps = {item.step for item in run.history}
    assert len(run.history) > 1000
    assert steps == {1, 2}
    assert {item.state for item in run.history} == {RecallState.SENT}


def test_no_cycle_gets_more_than_max_steps_messages(run):
    """At most max_steps (2) items per (patient, indicator, cycle)."""
    per_cycle: dict[tuple[str, str, str], int] = defaultdict(int)
    for item in run.history:
        per_cycle[item.patient_id, item.indicator, item.cycle] += 1
    assert max(per_cycle.values()) <= run.max_steps


def test_never_two_messages_about_an_indicator_within_the_reminder_delay(run):
    """Across cycles too: consecutive letters about an indicator are 30 days apart."""
    for pair, items in run.items_by_indicator().items():
        dates = sent_dates(items)
        gaps = [(b - a).days for a, b in itertools.pairwise(dates)]
        assert all(gap >= run.reminder_after_days for gap in gaps), (pair, dates)


def test_a_reminder_follows_an_earlier_message_about_it_after_the_delay(run):
    """Each step 2 comes reminder_after_days or more after a message about its indicator.

    The earlier message may carry another cycle name: an analysis that arrives moves an
    MRC's period, and the letter sent in it still counts.
    """
    for items in run.items_by_indicator().values():
        for item in items:
            if item.step == 2:
                earlier = [i.sent_on for i in items if i.sent_on < item.sent_on]
                assert earlier
                assert (item.sent_on - max(earlier)).days >= run.reminder_after_days


def test_never_two_letters_to_a_patient_within_a_week(run):
    """min_days_between_messages (7) between any two messages to one patient."""
    by_patient: dict[str, set[date]] = defaultdict(set)
    for item in run.history:
        by_patient[item.patient_id].add(item.sent_on)
    for patient, days in by_patient.items():
        ordered = sorted(days)
        assert all((b - a).days >= 7 for a, b in itertools.pairwise(ordered)), patient


@pytest.mark.parametrize("indicator", DUE_EVERY_DAY)
def test_acts_due_every_day_keep_their_cycle_while_the_record_stays(run, indicator):
    """Pneumo, MRC and HbA1c never done: a handful of cycles in 90 days, never one a day.

    Only a birthday (a new year of age) or an analysis arriving opens a new cycle; the
    previous release opened one on every planning day, 60 in this run.
    """
    for (patient, ind), items in run.items_by_indicator().items():
        if ind == indicator:
            cycles = {item.cycle for item in items}
            assert len(cycles) <= 3, (patient, sorted(cycles))


def test_the_days_after_the_first_queue_only_what_newly_fell_due(run):
    """Before the flu campaign, no day repeats the first day's wave (979 letters)."""
    before_campaign = [
        count
        for day, count in run.queued_per_day.items()
        if FIRST_DAY < day < date(2026, 10, 13)
    ]
    assert run.queued_per_day[FIRST_DAY] > 500
    assert max(before_campaign) < 50
