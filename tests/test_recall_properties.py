"""Property: over any sequence of daily runs, recalls respect their limits.

Hypothesis draws a patient, the dates their acts arrive, a start date, a recall policy and
what delivery does with each message (sent the same day or later, retried, dead,
uncertain). Each simulated day evaluates the patient (the real engine) and plans (the real
planner) against the outbox history so far, the history the real outbox gives the planner
(`PastRecall` rows: the planner's input, built here as the outbox would record them).

For every indicator: at most `max_steps` messages per cycle; never two messages that went
out (or may have) less than `reminder_after_days` apart, across cycles too; never two
messages to the patient less than `min_days_between_messages` apart; never an identity the
outbox already holds; and, on a day when nothing changes in the record and no
period turns, the same `period_start` as the day before.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fmt_plugin.model import Patient
from fmt_plugin.recalls.model import PastRecall, RecallState
from fmt_plugin.recalls.planner import plan_recalls
from fmt_plugin.recalls.policy import RecallPolicy
from fmt_plugin.rules import load_default_pack
from fmt_plugin.rules.dates import add_months
from fmt_plugin.rules.engine import evaluate
from fmt_plugin.rules.model import Evidence, EvidenceSource

PACK = load_default_pack()
S = RecallState

#: One code of each kind of act the pack counts (colonoscopies left out: an exclusion that
#: ends after five years is a period turning on a day the property cannot predict).
CODES = (
    ("LOINC", "29771-3"),  # FIT
    ("CCAM", "QEQK004"),  # mammography
    ("LOINC", "10524-7"),  # cervical cytology
    ("LOINC", "21440-3"),  # HPV-HR test
    ("LOINC", "1558-6"),  # fasting glucose
    ("LOINC", "4548-4"),  # HbA1c
    ("LOINC", "2160-0"),  # créatininémie
    ("LOINC", "14957-5"),  # albuminurie
    ("LOINC", "2161-8"),  # créatininurie
    ("CVX", "88"),  # flu
    ("CVX", "208"),  # covid
    ("CVX", "216"),  # PCV20
    ("CVX", "03"),  # ROR
    ("CVX", "108"),  # MenACWY
    ("CVX", "62"),  # HPV
    ("NGAP", "BDA"),  # dental exam
    ("NGAP", "COE"),  # child exam
)

#: What a delivery run does with a message: its final state, and after how many days.
OUTCOMES = st.tuples(
    st.sampled_from([S.SENT, S.SENT, S.SENT, S.DEAD, S.UNCERTAIN]),
    st.integers(min_value=0, max_value=4),
)


@dataclass
class Message:
    """One simulated outbox message: its items and what delivery made of it."""

    planned_on: date
    items: tuple[tuple[str, str, int], ...]  # indicator, cycle, step
    final: RecallState
    settles_on: date

    def state_when_planning(self, day: date) -> RecallState:
        """Its state when day's planning runs (before day's delivery)."""
        if day <= self.settles_on:
            return S.FAILED if day > self.planned_on else S.PLANNED
        return self.final

    def went_out_on(self) -> date | None:
        return self.settles_on if self.final in (S.SENT, S.UNCERTAIN) else None


def history(patient_id: str, messages: list[Message], day: date) -> list[PastRecall]:
    """The outbox's items as the planner reads them on `day`."""
    rows = []
    for message in messages:
        state = message.state_when_planning(day)
        settled = state not in (S.PLANNED, S.FAILED)
        for indicator, cycle, step in message.items:
            rows.append(
                PastRecall(
                    patient_id,
                    indicator,
                    cycle,
                    step,
                    state,
                    message.settles_on if state is S.SENT else None,
                    message.settles_on if settled else None,
                )
            )
    return rows


patients = st.builds(
    lambda age_days, sex, ald, conditions, flags: (
        age_days,
        sex,
        ald,
        conditions,
        flags,
    ),
    st.integers(min_value=0, max_value=90 * 365),
    st.sampled_from(["F", "M"]),
    st.frozensets(st.sampled_from([8, 19, 30]), max_size=2),
    st.frozensets(st.sampled_from(["I10", "E11.9", "N18.3"]), max_size=2),
    st.frozensets(st.sampled_from(["risk:grippe", "risk:pneumocoque"]), max_size=2),
)
arrivals = st.lists(
    st.tuples(st.integers(min_value=-900, max_value=150), st.sampled_from(CODES)),
    max_size=12,
)
policies = st.builds(
    RecallPolicy,
    lead_days=st.integers(min_value=0, max_value=60),
    reminder_after_days=st.integers(min_value=1, max_value=60),
    max_steps=st.integers(min_value=0, max_value=3),
    min_days_between_messages=st.integers(min_value=0, max_value=14),
)


def turning_days(birth: date, start: date, end: date) -> set[date]:
    """Days a period may turn whatever the record: monthly birthdays, season edges."""
    days = {
        add_months(birth, months)
        for months in range(12 * 130)
        if start <= add_months(birth, months) <= end
    }
    for year in range(start.year, end.year + 1):
        days |= {date(year, 9, 1), date(year, 3, 1)}
    return days


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    drawn=patients,
    acts=arrivals,
    start=st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 6, 30)),
    days=st.integers(min_value=30, max_value=150),
    policy=policies,
    data=st.data(),
)
def test_daily_runs_respect_cycles_steps_and_the_quiet_period(
    drawn, acts, start, days, policy, data
):
    """Any history, any start date: the recall invariants hold on every indicator."""
    age_days, sex, ald, conditions, flags = drawn
    birth = start - timedelta(days=age_days)
    patient = Patient(
        "P1", "test", birth_date=birth, sex=sex, ald=ald,
        conditions=conditions, flags=flags,
    )  # fmt: skip
    evidence = [
        Evidence(start + timedelta(days=offset), system, code, EvidenceSource.HL7)
        for offset, (system, code) in acts
    ]
    end = start + timedelta(days=days - 1)
    quiet = turning_days(birth, start, end) | {e.date for e in evidence}
    messages: list[Message] = []
    identities: set[tuple[str, str, int]] = set()
    yesterday: dict[str, object] = {}
    for offset in range(days):
        day = start + timedelta(days=offset)
        evaluation = evaluate(PACK, patient, evidence, (), day)
        starts = {i: s.period_start for i, s in evaluation.statuses.items()}
        if offset and day not in quiet:
            for indicator in starts.keys() & yesterday.keys():
                assert starts[indicator] == yesterday[indicator], (indicator, day)
        yesterday = dict(starts)
        planned = plan_recalls(
            patients={"P1": patient},
            evaluations=[evaluation],
            pack=PACK,
            policy=policy,
            history=history("P1", messages, day),
            as_of=day,
        )
        for recall in planned:
            items = tuple((i.indicator, i.cycle, i.step) for i in recall.items)
            assert not identities & set(items), "an identity planned twice"
            identities |= set(items)
            final, delay = data.draw(OUTCOMES)
            messages.append(Message(day, items, final, day + timedelta(days=delay)))
    per_cycle: dict[tuple[str, str], int] = defaultdict(int)
    went_out: dict[str, list[date]] = defaultdict(list)
    for message in messages:
        for indicator, cycle, _ in message.items:
            per_cycle[indicator, cycle] += 1
            if message.went_out_on() is not None:
                went_out[indicator].append(message.went_out_on())
    assert all(count <= policy.max_steps for count in per_cycle.values()), per_cycle
    letters = sorted(filter(None, (m.went_out_on() for m in messages)))
    spacing = [(b - a).days for a, b in itertools.pairwise(letters)]
    assert all(gap >= policy.min_days_between_messages for gap in spacing), letters
    for indicator, dates in went_out.items():
        dates.sort()
        gaps = [(b - a).days for a, b in itertools.pairwise(dates)]
        assert all(gap >= policy.reminder_after_days for gap in gaps), (
            indicator,
            dates,
        )
