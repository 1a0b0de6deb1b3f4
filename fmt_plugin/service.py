"""The background service's composition root: open the installation, run the MLLP listener, stop cleanly.

Start order: configuration (fails fast on a bad file), store and adapters on the store thread,
then the listener. Stop order (SIGTERM, SIGINT): the listener stops taking connections and
finishes the messages in flight, the last commits land, then the store closes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from fmt_plugin.config import FmtConfig, load_config
from fmt_plugin.ingest import Ingestor, IngestSettings
from fmt_plugin.installation import Installation, open_installation
from fmt_plugin.mllp.server import MllpServer
from fmt_plugin.recalls.delivery import recover_interrupted
from fmt_plugin.receiver import IngestReceiver
from fmt_plugin.storage.checkpoint import checkpointing_in_background
from fmt_plugin.timezone import PARIS

if TYPE_CHECKING:
    from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger(__name__)

#: How long in-flight messages may take to finish at shutdown.
SHUTDOWN_GRACE_S = 10.0


@dataclass(frozen=True)
class ServiceReady:
    """Where a started service listens (ports resolved when 0 was asked)."""

    mllp_host: str
    mllp_port: int
    #: The status endpoint's base URL (`http://127.0.0.1:PORT`), None when `[http]` is off.
    http_url: str | None = None


def installation_ingestor(installation: Installation) -> Ingestor:
    """The ingest pipeline on an open installation, with its `[hl7]` and `[practice]` settings."""
    config = installation.config
    settings = IngestSettings(
        parser=config.hl7.parser,
        unsupported_version_ack=config.hl7.unsupported_version_ack,
        practice_authorities=config.practice.patient_id_authorities,
    )
    return Ingestor(installation.store, installation.pm, settings)


async def run_service(
    config_path: Path,
    *,
    mllp_port: int | None = None,
    http_port: int | None = None,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[ServiceReady], None] | None = None,
) -> None:
    """Serve until `stop` is set (or SIGTERM/SIGINT when no event is given).

    `mllp_port` and `http_port` replace the configured ports (0: a free port).
    `on_ready(ready)` is called once the listener accepts connections.
    """
    config = load_config(config_path)
    settings = config.mllp
    if mllp_port is not None:
        settings = dataclasses.replace(settings, port=mllp_port)
    if stop is None:
        stop = _stop_on_signals()

    def open_ingestor() -> tuple[Ingestor, Callable[[], None]]:
        installation = open_installation(config_path)
        # On the store's connection, before any recall job can deliver.
        _settle_interrupted_recalls(installation)
        resources = ExitStack()
        resources.callback(installation.close)
        resources.enter_context(checkpointing_in_background(installation.store))
        return installation_ingestor(installation), resources.close

    receiver = IngestReceiver(
        open_ingestor, max_message_bytes=settings.max_message_bytes
    )
    await receiver.start()
    server = MllpServer(receiver, settings)
    scheduler: BackgroundScheduler | None = None
    try:
        scheduler = await asyncio.to_thread(_start_recalls, config, config_path)
        await server.start()
        scheme = "MLLP/TLS" if settings.tls_cert else "MLLP"
        log.info("listening for HL7 (%s) on %s:%d", scheme, server.host, server.port)
        if on_ready is not None:
            on_ready(ServiceReady(server.host, server.port))
        await stop.wait()
        log.info("stopping: finishing messages in flight")
    finally:
        await server.stop(grace_s=SHUTDOWN_GRACE_S)
        if scheduler is not None:
            # Waits for a running job: the current delivery finishes and is recorded.
            await asyncio.to_thread(scheduler.shutdown)
        await receiver.stop()
    log.info("stopped")


def _settle_interrupted_recalls(installation: Installation) -> None:
    """Mark the deliveries a previous process left half-done `uncertain` (never re-sent)."""
    interrupted = recover_interrupted(installation.store, now=datetime.now(PARIS))
    if interrupted:
        log.warning(
            "%d recall(s) interrupted while sending, now uncertain (not re-sent): %s",
            len(interrupted),
            ", ".join(map(str, interrupted)),
        )


def _start_recalls(config: FmtConfig, config_path: Path) -> BackgroundScheduler:
    """Start the recall jobs (after `_settle_interrupted_recalls`)."""
    # Imported here: APScheduler's job store pulls in SQLAlchemy, which only serve needs
    # (every other command would pay ~0.1 s at start-up for it).
    from fmt_plugin.recalls.scheduler import PLAN_JOB, start_scheduler

    scheduler = start_scheduler(config.recalls, config_path)
    plan = scheduler.get_job(PLAN_JOB)
    log.info(
        "recall scheduler started: next planning at %s",
        plan.next_run_time.isoformat(timespec="minutes") if plan else "-",
    )
    return scheduler


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop
