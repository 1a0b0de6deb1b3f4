"""The background service's composition root: one process, one config, every part started and stopped in order.

Start: the configuration (fails fast on a bad file), the installation's exclusive lock (a
second service refuses here, before it touches the store or the job store), then on the store
thread the installation
(keys, store, adapters) and the pre-flight checks (rule packs, channel certificates, TLS files),
the recovery of interrupted recalls, the re-encryption left by a key rotation (in the
background), then the recall scheduler, the MLLP listener and the
dashboard (with `/health` and `/status`) on the same event loop. Any failure there stops
start-up with one clear error.

Stop (SIGTERM, SIGINT), within `[service] shutdown_timeout_s`: the dashboard closes; the
listener stops taking connections and finishes the messages in flight while the recall
delivery finishes the message it is handing over; the last commits land; the store closes;
the lock is released.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from fmt_plugin.config import FmtConfig, HttpSettings, load_config
from fmt_plugin.errors import ShutdownTimeoutError
from fmt_plugin.ingest import Ingestor, IngestSettings
from fmt_plugin.installation import Installation, open_installation
from fmt_plugin.installation_lock import InstallationLock
from fmt_plugin.key_rotation import KeyRotationWorker
from fmt_plugin.mllp.server import MllpServer, MllpSettings
from fmt_plugin.monitor import ServiceMonitor
from fmt_plugin.preflight import Preflight, check_installation
from fmt_plugin.recalls.delivery import recover_interrupted
from fmt_plugin.recalls.jobs import stopping
from fmt_plugin.receiver import IngestReceiver
from fmt_plugin.status_refresh import QUIET_S, StatusRefresher
from fmt_plugin.storage.checkpoint import checkpointing_in_background
from fmt_plugin.systemd import notify
from fmt_plugin.timezone import PARIS, today_in_paris
from fmt_plugin.web.app import Dashboard, create_app
from fmt_plugin.web.practice import PracticeBackend
from fmt_plugin.web.serving import DashboardServer

if TYPE_CHECKING:
    from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger(__name__)

_Listening = TypeVar("_Listening", MllpSettings, HttpSettings)

#: Share of the shutdown bound the listener may spend on messages in flight; the rest is
#: for the last commit and closing the store.
LISTENER_SHARE = 0.6


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


class _StoreSide:
    """Opens the installation on the store thread: pre-flight, recovery, checkpointer.

    `opened` is set once the receiver has started (it calls `open` on the store thread).
    """

    def __init__(self, config_path: Path, lock: InstallationLock) -> None:
        self.config_path = config_path
        self.lock = lock
        self.opened: tuple[Installation, Preflight] | None = None

    def open(self) -> tuple[Ingestor, Callable[[], None]]:
        resources = ExitStack()
        try:
            # The receiver commits a lone sender's message on the event loop's thread.
            installation = open_installation(self.config_path, cross_thread_store=True)
            resources.callback(installation.close)
            preflight = check_installation(installation)
            # On the store's connection, before any recall job can deliver.
            _settle_interrupted_recalls(installation)
            resources.enter_context(checkpointing_in_background(installation.store))
            # `keys retire` may drop the old keys only once the service encrypts with
            # the new one: the lock says which one it has.
            self.lock.note_primary_key(installation.store.primary_key_id)
        except BaseException:
            resources.close()
            raise
        self.opened = (installation, preflight)
        return installation_ingestor(installation), resources.close


async def run_service(
    config_path: Path,
    *,
    mllp_port: int | None = None,
    http_port: int | None = None,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[ServiceReady], None] | None = None,
    clock: Callable[[], datetime] | None = None,
    lock: InstallationLock | None = None,
) -> None:
    """Serve until `stop` is set (or SIGTERM/SIGINT when no event is given).

    `mllp_port` and `http_port` replace the configured ports (0: a free port). `clock`
    is the time of the dashboard (sessions' idle expiry, lock-outs) and the day statuses
    are evaluated on, Paris time by default.
    `on_ready(ready)` is called once every part is up. Raises `ShutdownTimeoutError` when
    stopping took longer than `[service] shutdown_timeout_s` (some work is then abandoned).

    The installation's lock is taken before anything else opens the store, and raises
    `InstallationBusyError` when another process holds it. `lock`, when given, is one the
    caller already holds (and releases); otherwise the service takes its own and releases it
    once the store is closed — not after a `ShutdownTimeoutError`, when a stuck thread may
    still write: the process is then expected to exit, which frees it.
    """
    config = load_config(config_path)
    ports = (mllp_port, http_port)
    if lock is not None:
        await _serve(config, config_path, lock, ports, stop, on_ready, clock)
        return
    own = InstallationLock.acquire(config.store.path, purpose="serve")
    try:
        await _serve(config, config_path, own, ports, stop, on_ready, clock)
    except ShutdownTimeoutError:
        raise  # the lock stays held until the process exits (see above)
    except BaseException:
        own.release()
        raise
    own.release()


async def _serve(
    config: FmtConfig,
    config_path: Path,
    lock: InstallationLock,
    ports: tuple[int | None, int | None],
    stop: asyncio.Event | None,
    on_ready: Callable[[ServiceReady], None] | None,
    clock: Callable[[], datetime] | None,
) -> None:
    """`run_service` once the lock is held: every part started, then stopped in order."""
    mllp = _with_port(config.mllp, ports[0])
    http = _with_port(config.http, ports[1])
    if stop is None:
        stop = stop_on_signals()
    store_side = _StoreSide(config_path, lock)
    refresher = StatusRefresher(
        config_path,
        today=(lambda: clock().date()) if clock is not None else today_in_paris,
    )
    receiver = IngestReceiver(
        store_side.open,
        max_message_bytes=mllp.max_message_bytes,
        on_patients_written=refresher.notify,
    )
    refresher.defer_while(partial(receiver.committed_recently, QUIET_S))
    parts = _Parts(
        receiver, MllpServer(receiver, mllp), refresher
    )  # the TLS settings checked first
    try:
        await receiver.start()
        # After the store side: the store is checked and migrated.
        await refresher.start()
        parts.rotation = KeyRotationWorker(config_path)
        await parts.rotation.start()
        parts.scheduler = await asyncio.to_thread(_start_recalls, config, config_path)
        await parts.listener.start()
        scheme = "MLLP/TLS" if mllp.tls_cert else "MLLP"
        log.info(
            "listening for HL7 (%s) on %s:%d",
            scheme,
            parts.listener.host,
            parts.listener.port,
        )
        if http.enabled:
            parts.dashboard = PracticeBackend(config_path)
            await parts.dashboard.start()
            parts.status = _dashboard_server(http, parts, store_side, clock)
            await parts.status.start()
            log.info(
                "dashboard on %s/ (status endpoint on %s/status)",
                parts.status.url,
                parts.status.url,
            )
        ready = ServiceReady(
            parts.listener.host,
            parts.listener.port,
            parts.status.url if parts.status else None,
        )
        notify("READY=1", f"STATUS=HL7 sur le port {ready.mllp_port}")
        if on_ready is not None:
            on_ready(ready)
        await stop.wait()
    except BaseException:
        # Start-up failed or was cancelled: undo what was started (nothing is in flight).
        await parts.stop(grace_s=0)
        raise
    log.info("stopping: finishing messages in flight and the current delivery")
    notify("STOPPING=1")
    await _stop_within(parts, config.service.shutdown_timeout_s)
    log.info("stopped")


@dataclass
class _Parts:
    """The running parts of the service, stopped in the reverse order of their start."""

    receiver: IngestReceiver
    listener: MllpServer
    refresher: StatusRefresher
    scheduler: BackgroundScheduler | None = None
    rotation: KeyRotationWorker | None = None
    dashboard: PracticeBackend | None = None
    status: DashboardServer | None = None

    async def stop(self, grace_s: float) -> None:
        """Dashboard first (nobody is told "healthy" while parts stop), then the rest."""
        if self.status is not None:
            await self.status.stop()
        if self.dashboard is not None:
            await self.dashboard.stop()
        stopping.set()
        try:
            if self.rotation is not None:
                await self.rotation.stop()  # its slice in progress only
            await asyncio.gather(
                self.listener.stop(grace_s=grace_s), self._stop_scheduler()
            )
            # The listener is closed: commit what it queued, then close the store.
            await self.receiver.stop()
            # Then the patients of those last messages, and its own connection.
            await self.refresher.stop()
        finally:
            stopping.clear()

    async def _stop_scheduler(self) -> None:
        scheduler = self.scheduler
        if scheduler is not None and scheduler.running:
            # Waits for a running job: the message being handed over is recorded.
            await asyncio.to_thread(scheduler.shutdown)


def _dashboard_server(
    settings: HttpSettings,
    parts: _Parts,
    store_side: _StoreSide,
    clock: Callable[[], datetime] | None,
) -> DashboardServer:
    if store_side.opened is None or parts.dashboard is None:
        raise RuntimeError("the dashboard starts after the store")
    installation, preflight = store_side.opened
    monitor = ServiceMonitor(
        receiver=parts.receiver,
        listener=parts.listener,
        store=installation.store,
        adapters=preflight.adapters,
        scheduler=parts.scheduler,
        min_free_mb=installation.config.store.min_free_mb,
    )
    dashboard = Dashboard(
        parts.dashboard,
        settings,
        monitor=monitor,
        practice_name=installation.config.practice.name or "Cabinet",
    )
    if clock is not None:
        dashboard.clock = clock
    return DashboardServer(create_app(dashboard), settings)


async def _stop_within(parts: _Parts, timeout_s: float) -> None:
    """Stop every part within `timeout_s`, or raise `ShutdownTimeoutError`."""
    try:
        await asyncio.wait_for(
            parts.stop(grace_s=timeout_s * LISTENER_SHARE), timeout_s
        )
    except TimeoutError:
        raise ShutdownTimeoutError(
            f"arrêt non terminé en {timeout_s:g} s (clé « service.shutdown_timeout_s ») : "
            "arrêt forcé ; les messages non acquittés seront renvoyés par l'expéditeur, "
            "un rappel en cours d'envoi sera marqué « incertain » au redémarrage"
        ) from None


def _with_port(settings: _Listening, port: int | None) -> _Listening:
    return settings if port is None else dataclasses.replace(settings, port=port)


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


def stop_on_signals(stop: asyncio.Event | None = None) -> asyncio.Event:
    """`stop` (or a new event), set by SIGTERM and SIGINT (Ctrl-C) on the running loop."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        # Windows has no loop signal handlers: Ctrl-C is a KeyboardInterrupt there.
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    return stop
