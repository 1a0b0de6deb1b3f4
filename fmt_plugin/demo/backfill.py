"""The demo's taux history: a snapshot at each month end of its three years, as it was then.

A real installation builds its history night after night; the demo has three years of data
at once, so `history` would show a single day. Each month end is evaluated with the data
known on that day (the engine ignores acts and results dated after `as_of`, and patients
not yet born are left out) and recorded through the snapshot store, as the nightly job
does. The roster is today's: who left the practice in between is not known.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from fmt_plugin.demo.history import HISTORY_MONTHS
from fmt_plugin.evaluation import EvidenceCollector, select_rule_pack
from fmt_plugin.installation import Installation
from fmt_plugin.rules import Evidence, evaluate_many
from fmt_plugin.rules.dates import add_months
from fmt_plugin.rules.rates import compute_rates

log = logging.getLogger(__name__)


def history_start(reference_date: date) -> date:
    """The day the demo's synthetic history starts."""
    return add_months(reference_date, -HISTORY_MONTHS)


def snapshot_days(start: date, as_of: date) -> list[date]:
    """Each month's last day after `start` and before `as_of`, then `as_of` itself."""
    days: list[date] = []
    month_start = date(start.year, start.month, 1)
    while True:
        month_start = add_months(month_start, 1)
        month_end = month_start - timedelta(days=1)
        if month_end >= as_of:
            break
        if month_end > start:
            days.append(month_end)
    return [*days, as_of]


def backfill_rate_history(
    installation: Installation, reference_date: date, as_of: date, now: datetime
) -> list[date]:
    """Record the snapshots of `snapshot_days` that are missing; return their days.

    Days that already have a snapshot (an earlier run, a nightly one) are left as they
    are, so running the demo again costs nothing here. The store's evidence is read once
    and evaluated at every missing day.
    """
    store = installation.store
    recorded = store.snapshots.days()
    missing = [
        d
        for d in snapshot_days(history_start(reference_date), as_of)
        if d not in recorded
    ]
    if not missing:
        return []
    pack = select_rule_pack(installation.config, installation.pm)
    patients = list(store.iter_patients())
    overrides = store.overrides_by_patient()
    events = store.inbox.current_events_by_patient()
    collector = EvidenceCollector(pack, installation.pm)
    evidence: dict[str, Sequence[Evidence]] = {
        p.patient_id: collector.acts_of(p.patient_id)
        + collector.from_events(events.get(p.patient_id, ()))
        for p in patients
    }
    for day in missing:
        born = [p for p in patients if p.birth_date is None or p.birth_date <= day]
        rates = compute_rates(pack, evaluate_many(pack, born, evidence, overrides, day))
        store.snapshots.record(day, rates.values(), taken_at=now)
    log.info("rate history back-filled: %d snapshot(s) recorded", len(missing))
    return missing
