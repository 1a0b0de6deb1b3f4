"""Run the scheduled recall jobs day after day on the demo practice, as the service would.

Shared by the 90-day simulation test and `bench/recall_simulation.py`. The demo practice's
history stops on the last simulated day: what is dated before the first day is imported
before it starts, and each day's lab reports and vaccinations arrive that day, before the
morning's planning, through the ingest pipeline the listener uses. Planning runs at 08:00
and delivery at 10:00 through `fmt_plugin.recalls.jobs`, the functions APScheduler calls.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from fmt_plugin.demo.hl7_messages import history_messages
from fmt_plugin.demo.records import LabReport, Vaccination
from fmt_plugin.demo.run import demo_practice, prepare_installation
from fmt_plugin.ingest import Incoming
from fmt_plugin.installation import Installation, open_installation
from fmt_plugin.recalls.jobs import run_delivery, run_planning
from fmt_plugin.recalls.model import PastRecall
from fmt_plugin.roster import collect_roster
from fmt_plugin.service import installation_ingestor
from fmt_plugin.timezone import PARIS

BATCH = 500


@dataclass(frozen=True)
class Simulation:
    """What the days left in the outbox, and the policy they ran under."""

    config: Path
    first_day: date
    last_day: date
    history: tuple[PastRecall, ...]
    queued_per_day: dict[date, int]
    reminder_after_days: int
    max_steps: int

    def items_by_indicator(self) -> dict[tuple[str, str], list[PastRecall]]:
        """The outbox items of each (patient, indicator), in outbox order."""
        grouped: dict[tuple[str, str], list[PastRecall]] = defaultdict(list)
        for item in self.history:
            grouped[item.patient_id, item.indicator].append(item)
        return dict(grouped)


def simulate(directory: Path, first_day: date, days: int) -> Simulation:
    """Create the demo practice in `directory`, then run `days` days of the jobs."""
    last_day = first_day + timedelta(days=days - 1)
    config, _ = prepare_installation(directory, last_day, "simulation")
    with open_installation(config) as installation:
        arrivals = _prepare(installation, first_day)
        ingestor = installation_ingestor(installation)
        policy = installation.config.recalls.policy
    queued: dict[date, int] = {}
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        if day in arrivals:
            with open_installation(config) as installation:
                ingestor = installation_ingestor(installation)
                _ingest(ingestor, arrivals[day], f"S{offset}")
        queued[day] = len(run_planning(config, datetime.combine(day, time(8), PARIS)))
        run_delivery(config, datetime.combine(day, time(10), PARIS))
    with open_installation(config) as installation:
        history = tuple(installation.store.outbox.history())
    return Simulation(
        config,
        first_day,
        last_day,
        history,
        queued,
        policy.reminder_after_days,
        policy.max_steps,
    )


def _prepare(
    installation: Installation, first_day: date
) -> dict[date, list[LabReport | Vaccination]]:
    """Sync the roster, import everything sent before `first_day`; the rest by day."""
    practice = demo_practice(installation)
    roster = collect_roster(installation.pm, first_day)
    installation.store.sync_roster(roster.patients, actor="simulation")
    before: list[LabReport | Vaccination] = []
    later: dict[date, list[LabReport | Vaccination]] = defaultdict(list)
    for record in practice.hl7_records():
        sent = record.sent.astimezone(PARIS).date()
        (before if sent < first_day else later[sent]).append(record)
    _ingest(installation_ingestor(installation), before, "D")
    return dict(later)


def _ingest(ingestor, records: Iterable[LabReport | Vaccination], prefix: str) -> None:
    messages = history_messages(list(records), 2026, prefix=prefix)
    for start in range(0, len(messages), BATCH):
        batch = [Incoming(raw, "import") for raw in messages[start : start + BATCH]]
        ingestor.ingest(batch, acknowledge=False)
