"""The scheduler's jobs: module-level functions APScheduler stores by name.

APScheduler pickles a job's reference and arguments into its job store, in clear: the only
argument is the configuration file's path, and each run opens its own installation (its own
store connection, so a job never shares the listener's). The `run_*` functions take the
moment explicitly; the `*_job` wrappers read the clock, which rule code never does.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from fmt_plugin.evaluation import (
    PracticeEvaluation,
    evaluate_practice,
    select_rule_pack,
)
from fmt_plugin.installation import open_installation
from fmt_plugin.recalls import runner
from fmt_plugin.recalls.calendar import is_planning_day, may_send_at
from fmt_plugin.recalls.delivery import DeliveryReport
from fmt_plugin.status_tracking import track_status_changes
from fmt_plugin.timezone import PARIS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SnapshotTaken:
    """What `run_snapshot` recorded: the evaluation behind the counts, and how many status
    changes it told the adapters (None when it did not track them: not today's snapshot)."""

    practice: PracticeEvaluation
    status_changes: int | None


#: Set by the service when it shuts down: a delivery run finishes the message it is handing
#: over and leaves the rest for the next run. A process-wide event because APScheduler calls
#: jobs by their textual reference with pickled arguments, which an Event cannot be.
stopping = threading.Event()


def plan_recalls_job(config_path: str) -> None:
    """Daily: plan the recalls due today and queue them in the outbox."""
    run_planning(Path(config_path), datetime.now(PARIS))


def deliver_recalls_job(config_path: str) -> None:
    """Every few minutes: deliver the outbox's due messages, within sending hours."""
    run_delivery(Path(config_path), datetime.now(PARIS))


def snapshot_job(config_path: str) -> None:
    """Nightly: keep the day's counts per indicator, and tell adapters which statuses changed."""
    run_snapshot(Path(config_path), datetime.now(PARIS))


def run_planning(config_path: Path, now: datetime) -> list[int]:
    """Plan at `now`'s Paris date and queue; nothing on a non-working day. New outbox ids."""
    with open_installation(config_path) as installation:
        today = now.astimezone(PARIS).date()
        if not is_planning_day(today, installation.config.recalls):
            log.info("recall planning skipped: %s is not a working day", today)
            return []
        recall_plan = runner.plan(installation, today)
        queued = runner.queue(installation, recall_plan, now)
        log.info(
            "recall planning for %s: %d patient(s) due, %d new message(s) queued",
            today,
            len(recall_plan.recalls),
            len(queued),
        )
        return queued


def run_delivery(config_path: Path, now: datetime) -> DeliveryReport | None:
    """Deliver what is due at `now`; None (nothing tried) outside sending hours."""
    with open_installation(config_path) as installation:
        if not may_send_at(now, installation.config.recalls):
            return None
        report = asyncio.run(runner.deliver(installation, now, stopping))
        if report.total:
            log.info(
                "recall delivery: %d sent, %d to retry, %d dead, %d uncertain",
                report.sent,
                report.failed,
                report.dead,
                report.uncertain,
            )
        return report


def run_snapshot(
    config_path: Path, now: datetime, *, as_of: date | None = None
) -> SnapshotTaken:
    """Record the counts of `as_of` (default: `now`'s Paris date); a rerun that day replaces them.

    Statuses are remembered, and their changes told to adapters, for today's snapshot
    only: another day's statuses are not news, and the next night would undo them.
    """
    with open_installation(config_path) as installation:
        today = now.astimezone(PARIS).date()
        day = as_of or today
        pack = select_rule_pack(installation.config, installation.pm)
        practice = evaluate_practice(installation.store, installation.pm, pack, day)
        installation.store.snapshots.record(day, practice.rates.values(), taken_at=now)
        log.info("status snapshot for %s recorded", day)
        if day != today:
            return SnapshotTaken(practice, None)
        changes = track_status_changes(installation.store, installation.pm, practice)
        return SnapshotTaken(practice, changes)
