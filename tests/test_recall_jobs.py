"""The recall jobs and their APScheduler scheduler: once a day, catch-up once, no patient data."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from fmt_plugin.config import RecallSettings, load_config
from fmt_plugin.installation import open_installation
from fmt_plugin.recalls import jobs
from fmt_plugin.recalls.model import RecallState
from fmt_plugin.recalls.scheduler import (
    DELIVER_JOB,
    PLAN_JOB,
    SNAPSHOT_JOB,
    jobstore_url,
    start_scheduler,
)
from fmt_plugin.timezone import PARIS

#: A Monday in the public scenario's season, inside sending hours.
MONDAY_MORNING = datetime(2026, 3, 16, 9, 30, tzinfo=PARIS)


@pytest.fixture
def config(scenario_config: Path) -> Path:
    return scenario_config


def _outbox_states(config: Path) -> list[RecallState]:
    with open_installation(config) as installation:
        return [entry.state for entry in installation.store.outbox.entries()]


def test_planning_queues_one_message_per_patient_due(config: Path) -> None:
    """The daily job plans at its date and queues the recalls in the outbox."""
    queued = jobs.run_planning(config, MONDAY_MORNING)
    assert queued
    assert _outbox_states(config) == [RecallState.PLANNED] * len(queued)


def test_planning_twice_the_same_day_queues_nothing_more(config: Path) -> None:
    """Running the daily job a second time creates no second message."""
    first = jobs.run_planning(config, MONDAY_MORNING)
    second = jobs.run_planning(config, MONDAY_MORNING + timedelta(hours=2))
    assert first
    assert second == []
    assert len(_outbox_states(config)) == len(first)


def test_planning_does_nothing_on_a_public_holiday(config: Path) -> None:
    """Easter Monday is not a working day: nothing is planned."""
    easter_monday = datetime(2026, 4, 6, 8, 0, tzinfo=PARIS)
    assert jobs.run_planning(config, easter_monday) == []
    assert _outbox_states(config) == []


def test_delivery_sends_each_queued_message_once(config: Path) -> None:
    """Two delivery runs write each recall once into the outbox folder."""
    queued = jobs.run_planning(config, MONDAY_MORNING)
    first = jobs.run_delivery(config, MONDAY_MORNING)
    second = jobs.run_delivery(config, MONDAY_MORNING + timedelta(minutes=5))
    assert first is not None
    assert first.sent == len(queued)
    assert second is not None
    assert second.total == 0
    assert len(list((config.parent / "outbox").glob("*.eml"))) == len(queued)


def test_delivery_waits_outside_sending_hours(config: Path) -> None:
    """At 21:00 nothing is sent; the messages stay planned."""
    queued = jobs.run_planning(config, MONDAY_MORNING)
    evening = MONDAY_MORNING.replace(hour=21)
    assert jobs.run_delivery(config, evening) is None
    assert _outbox_states(config) == [RecallState.PLANNED] * len(queued)


def test_snapshot_records_the_day_counts(config: Path) -> None:
    """The nightly snapshot keeps status counts per indicator, replaced on a second run."""
    jobs.run_snapshot(config, MONDAY_MORNING)
    jobs.run_snapshot(config, MONDAY_MORNING + timedelta(hours=1))
    with open_installation(config) as installation:
        history = installation.store.snapshots.history()
    assert list(history) == [MONDAY_MORNING.date()]
    assert all(
        rate.fait + rate.a_verifier + rate.a_venir + rate.exclu > 0
        for rate in history[MONDAY_MORNING.date()]
    )


# --- the scheduler -------------------------------------------------------------------------


@pytest.fixture
def settings(config: Path) -> RecallSettings:
    return load_config(config).recalls


@pytest.fixture
def scheduler_stopper() -> Iterator[list[BackgroundScheduler]]:
    started: list[BackgroundScheduler] = []
    yield started
    for scheduler in started:
        if scheduler.running:
            scheduler.shutdown()


def test_scheduler_declares_three_jobs_with_fixed_ids(
    settings: RecallSettings, config: Path, scheduler_stopper
) -> None:
    """Declaring the jobs at each start never duplicates them."""
    for _ in range(2):
        scheduler = start_scheduler(settings, config)
        scheduler_stopper.append(scheduler)
        jobs_by_id = {job.id: job for job in scheduler.get_jobs()}
        scheduler.shutdown()
    assert set(jobs_by_id) == {PLAN_JOB, DELIVER_JOB, SNAPSHOT_JOB}
    plan = jobs_by_id[PLAN_JOB]
    assert (plan.coalesce, plan.max_instances) == (True, 1)
    assert plan.misfire_grace_time is not None
    assert str(plan.trigger.timezone) == "Europe/Paris"


def _stored_next_run(settings: RecallSettings, job_id: str, when: datetime) -> None:
    """Rewrite a stored job's next run, as if the service had been down since `when`."""
    assert settings.jobstore is not None
    owner = BackgroundScheduler(
        timezone=PARIS
    )  # never started: only lends its settings
    store = SQLAlchemyJobStore(url=jobstore_url(settings.jobstore))
    store.start(owner, "default")
    try:
        job = store.lookup_job(job_id)
        assert job is not None
        job._modify(next_run_time=when)
        store.update_job(job)
    finally:
        store.shutdown()


def test_a_restart_after_downtime_catches_up_once(
    config: Path, settings: RecallSettings, scheduler_stopper
) -> None:
    """Three missed daily runs give one run at restart, then the next is in the future."""
    now = datetime.now(PARIS).replace(second=0, microsecond=0)
    daily = RecallSettings(
        planning_time=(now - timedelta(hours=1)).time(),
        planning_days=("mon", "tue", "wed", "thu", "fri", "sat", "sun"),
        jobstore=settings.jobstore,
    )
    scheduler_stopper.append(first := start_scheduler(daily, config))
    first.shutdown()
    _stored_next_run(daily, PLAN_JOB, now - timedelta(days=3, hours=1))

    runs: list[JobExecutionEvent] = []
    done = threading.Event()

    def on_event(event: JobExecutionEvent) -> None:
        if event.job_id == PLAN_JOB:
            runs.append(event)
            done.set()

    scheduler = start_scheduler(daily, config)
    scheduler_stopper.append(scheduler)
    scheduler.add_listener(on_event, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED)
    scheduler.wakeup()
    assert done.wait(30), "the missed run never ran"
    scheduler.shutdown(wait=True)
    assert [event.code for event in runs] == [EVENT_JOB_EXECUTED]
    assert runs[0].exception is None


def test_the_job_store_holds_no_patient_data(
    config: Path, settings: RecallSettings, public_scenario: Path, scheduler_stopper
) -> None:
    """After planning and delivery, the job store file names no patient."""
    scheduler_stopper.append(scheduler := start_scheduler(settings, config))
    jobs.run_planning(config, MONDAY_MORNING)
    jobs.run_delivery(config, MONDAY_MORNING)
    scheduler.shutdown()
    assert settings.jobstore is not None
    content = settings.jobstore.read_bytes()
    roster = (public_scenario / "roster.csv").read_text(encoding="utf-8").splitlines()
    header = roster[0].split(",")
    for line in roster[1:]:
        row = dict(zip(header, line.split(","), strict=False))
        for column in ("patient_id", "ins", "nom", "prenom"):
            value = row.get(column, "")
            if len(value) >= 3:
                assert value.encode() not in content, column
    with closing(sqlite3.connect(settings.jobstore)) as conn:
        ids = {row[0] for row in conn.execute("SELECT id FROM apscheduler_jobs")}
    assert ids == {PLAN_JOB, DELIVER_JOB, SNAPSHOT_JOB}
