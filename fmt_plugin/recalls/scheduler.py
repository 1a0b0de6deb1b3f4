"""The APScheduler 3 scheduler of the recall jobs: fixed ids, a persistent job store, catch-up once.

Three static jobs (planning, delivery, nightly snapshot) are declared at every start with
`replace_existing`; their job store is a SQLite file (SQLAlchemyJobStore) holding only job
references, triggers and the configuration path — never patient data, since APScheduler
pickles it in clear. The file is its owner's only (0600) all the same: job ids and the
configuration's path are nobody else's business. A run missed while the service was down is kept when the jobs are
declared again, and `coalesce` turns any number of missed runs into one.
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from fmt_plugin.config import RecallSettings
from fmt_plugin.private_files import create_privately
from fmt_plugin.timezone import PARIS

log = logging.getLogger(__name__)

PLAN_JOB = "recalls-plan"
DELIVER_JOB = "recalls-deliver"
SNAPSHOT_JOB = "status-snapshot"

#: How late a daily run may still start (e.g. after a restart in the afternoon).
DAILY_GRACE_S = 12 * 3600


@dataclass(frozen=True)
class JobSpec:
    """One static job: its fixed id, the function's textual reference, when it runs."""

    id: str
    function: str
    trigger: BaseTrigger
    misfire_grace_s: int
    name: str


def job_specs(settings: RecallSettings) -> list[JobSpec]:
    """The recall jobs as `[recalls]` configures them."""
    plan_at, snapshot_at = settings.planning_time, settings.snapshot_time
    return [
        JobSpec(
            PLAN_JOB,
            "fmt_plugin.recalls.jobs:plan_recalls_job",
            CronTrigger(
                day_of_week=",".join(settings.planning_days),
                hour=plan_at.hour,
                minute=plan_at.minute,
                timezone=PARIS,
            ),
            DAILY_GRACE_S,
            "planification des rappels",
        ),
        JobSpec(
            DELIVER_JOB,
            "fmt_plugin.recalls.jobs:deliver_recalls_job",
            # The job itself checks sending days, hours and public holidays.
            IntervalTrigger(minutes=settings.delivery_every_minutes, timezone=PARIS),
            settings.delivery_every_minutes * 60,
            "envoi des rappels",
        ),
        JobSpec(
            SNAPSHOT_JOB,
            "fmt_plugin.recalls.jobs:snapshot_job",
            CronTrigger(
                hour=snapshot_at.hour, minute=snapshot_at.minute, timezone=PARIS
            ),
            DAILY_GRACE_S,
            "instantané des taux",
        ),
    ]


def jobstore_url(path: Path) -> str:
    """The SQLAlchemy URL of the job store file."""
    return f"sqlite:///{path}"


def private_jobstore(path: Path) -> None:
    """Make sure the job store file exists with mode 0600 before SQLite opens it.

    A new file is created empty with 0600 (SQLite takes an empty file for an empty database,
    and gives its -journal and -wal files the database's mode). An existing file the group or
    others may read, as earlier versions left it under the umask, is narrowed to 0600 with a
    log line rather than refused: it holds job ids and triggers, no secret, and refusing would
    stop an upgraded service for a file it can fix itself.
    """
    try:
        create_privately(path)
        return
    except FileExistsError:
        pass
    info = os.stat(path)
    if stat.S_ISREG(info.st_mode) and info.st_mode & 0o077:
        os.chmod(path, 0o600)
        log.warning(
            "job store %s was mode %04o: narrowed to 0600",
            path,
            stat.S_IMODE(info.st_mode),
        )


def start_scheduler(
    settings: RecallSettings, config_path: Path, *, now: datetime | None = None
) -> BackgroundScheduler:
    """Start the scheduler with the recall jobs declared; the caller shuts it down.

    One worker: jobs never run side by side (each opens the store; the outbox's own
    transitions keep them safe anyway, one at a time is simply enough).
    """
    if settings.jobstore is None:
        raise ValueError("recalls.jobstore is not set")
    private_jobstore(settings.jobstore)
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=jobstore_url(settings.jobstore))},
        executors={"default": ThreadPoolExecutor(1)},
        timezone=PARIS,
    )
    # Paused until the jobs are declared: nothing may run with a stale definition.
    scheduler.start(paused=True)
    moment = now or datetime.now(PARIS)
    declared = {spec.id for spec in job_specs(settings)}
    for job in scheduler.get_jobs():
        if job.id not in declared:
            scheduler.remove_job(job.id)
    for spec in job_specs(settings):
        _declare(scheduler, spec, config_path, moment)
    scheduler.resume()
    return scheduler


def _declare(
    scheduler: BackgroundScheduler, spec: JobSpec, config_path: Path, now: datetime
) -> None:
    """Add or replace one job, keeping a run that was missed while the service was down."""
    options: dict[str, object] = {}
    stored = scheduler.get_job(spec.id)
    missed = stored.next_run_time if stored is not None else None
    if missed is not None and missed <= now:
        # Re-declaring would compute the next run from now and forget this one.
        options["next_run_time"] = missed
        log.info("job %s missed its run of %s: it runs once now", spec.id, missed)
    scheduler.add_job(
        spec.function,
        trigger=spec.trigger,
        args=(str(config_path),),
        id=spec.id,
        name=spec.name,
        replace_existing=True,
        coalesce=True,
        max_instances=1,
        misfire_grace_time=spec.misfire_grace_s,
        **options,
    )
