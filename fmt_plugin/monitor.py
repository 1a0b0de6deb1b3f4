"""What the running service says about itself on `/health` and `/status`: counts, never patient data.

`/health` answers 200 when the parts a practice relies on are up (the store answers a query
and can be written, the MLLP listener accepts connections, the recall scheduler runs) and 503
naming, in French, the check that failed (`motifs`). `/status` adds what a supervisor or the practice's IT provider wants to see:
version, adapters, today's messages, the outbox by state and the next job runs. Everything in
it is a count, a time, a name or a version.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fmt_plugin import __version__
from fmt_plugin.config import StoreSettings
from fmt_plugin.hooks.specs import HOOKS_VERSION
from fmt_plugin.mllp.server import REFUSALS, MllpServer
from fmt_plugin.model import AdapterInfo
from fmt_plugin.receiver import IngestReceiver
from fmt_plugin.storage.store import Store
from fmt_plugin.store_writable import StoreWritability, Unwritable
from fmt_plugin.timezone import PARIS

if TYPE_CHECKING:
    from apscheduler.schedulers.base import BaseScheduler

log = logging.getLogger(__name__)

#: A health probe slower than this counts as down (the store thread may be stuck on I/O).
PROBE_TIMEOUT_S = 2.0


@dataclass
class ServiceMonitor:
    """Reads the live parts of one running service; every store query runs on the store thread."""

    receiver: IngestReceiver
    listener: MllpServer
    #: Used on the store thread only (`receiver.on_store_thread`).
    store: Store
    adapters: tuple[AdapterInfo, ...]
    scheduler: BaseScheduler | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(PARIS))
    #: `[store] min_free_mb`: less free space than this is "disque plein".
    min_free_mb: int = StoreSettings.min_free_mb
    started_at: datetime = field(init=False)
    writability: StoreWritability = field(init=False)

    def __post_init__(self) -> None:
        self.started_at = self.clock()
        self.writability = StoreWritability(
            self.store,
            self.min_free_mb,
            self.receiver.on_store_thread,
            lambda: self.receiver.write_failure,
            clock=self.clock,
        )

    async def health(self) -> tuple[int, Mapping[str, Any]]:
        """200 and `{"etat": "ok"}` when every check passes; 503 and French `motifs` otherwise."""
        answers = await self._store_answers()
        unwritable = await self._unwritable() if answers else None
        checks = {
            "base": answers,
            "base_inscriptible": answers and unwritable is None,
            "ecoute_hl7": self.listener.serving,
            "planificateur": self._scheduler_running(),
        }
        healthy = all(checks.values())
        body: dict[str, Any] = {
            "etat": "ok" if healthy else "degrade",
            "controles": checks,
        }
        if not healthy:
            body["motifs"] = _motifs(checks, unwritable)
        return (HTTPStatus.OK if healthy else HTTPStatus.SERVICE_UNAVAILABLE), body

    async def status(self) -> tuple[int, Mapping[str, Any]]:
        """The service's state as JSON-ready data (counts and names only)."""
        now = self.clock()
        counts = await self.receiver.on_store_thread(lambda: self._store_counts(now))
        return HTTPStatus.OK, {
            "version": __version__,
            "version_crochets": HOOKS_VERSION,
            "demarre_le": self.started_at.isoformat(timespec="seconds"),
            "depuis_s": int((now - self.started_at).total_seconds()),
            "adaptateurs": [
                {
                    "nom": info.name,
                    "version": info.version,
                    "version_crochets": info.hooks_version,
                }
                for info in self.adapters
            ],
            "ecoute_hl7": {
                "hote": self.listener.host,
                "port": self.listener.port,
                "en_service": self.listener.serving,
                "connexions": self.listener.connections,
                "refus": {reason: self.listener.refused[reason] for reason in REFUSALS},
            },
            "messages": {
                "aujourd_hui": counts["today"],
                "depuis_demarrage": dict(sorted(self.receiver.tally.items())),
            },
            "rappels": counts["outbox"],
            "taches": await asyncio.to_thread(self._next_runs),
            "base": await self._store_state(),
        }

    async def _store_answers(self) -> bool:
        try:
            return await asyncio.wait_for(
                self.receiver.on_store_thread(self.store.ping), PROBE_TIMEOUT_S
            )
        except Exception as exc:  # noqa: BLE001 - any failure means "not healthy"
            log.warning("health probe of the store failed (%s)", type(exc).__name__)
            return False

    async def _store_state(self) -> dict[str, Any]:
        """`/status`'s view of the store: whether it can be written, the folder's free space."""
        unwritable = await self._unwritable()
        return {
            "inscriptible": unwritable is None,
            "motif": unwritable.motif if unwritable is not None else None,
            "espace_libre_mo": await asyncio.to_thread(
                _free_mb, self.store.path.parent
            ),
        }

    async def _unwritable(self) -> Unwritable | None:
        try:
            return await self.writability.problem()
        except Exception as exc:  # noqa: BLE001 - a check that cannot run is a failure
            log.warning("write check of the store failed (%s)", type(exc).__name__)
            return Unwritable(f"contrôle impossible ({type(exc).__name__})")

    def _scheduler_running(self) -> bool:
        return self.scheduler is not None and bool(self.scheduler.running)

    def _store_counts(self, now: datetime) -> dict[str, Any]:
        store = self.store
        midnight = datetime.combine(now.date(), time(0), tzinfo=PARIS)
        # Not midnight + 24 h: a day is 23 or 25 hours long when the clocks change.
        next_midnight = datetime.combine(
            now.date() + timedelta(days=1), time(0), tzinfo=PARIS
        )
        received = store.inbox.counts_received(midnight, next_midnight)
        return {
            "today": {
                "date": now.date().isoformat(),
                "recus": sum(received.values()),
                "integres": received["accepted"],
                "en_quarantaine": received["quarantined"],
                "ecartes": received["discarded"],
            },
            "outbox": store.outbox.counts(),
        }

    def _next_runs(self) -> list[dict[str, Any]]:
        if self.scheduler is None:
            return []
        return [
            {
                "id": job.id,
                "nom": job.name,
                "prochaine_execution": (
                    job.next_run_time.astimezone(PARIS).isoformat(timespec="seconds")
                    if job.next_run_time
                    else None
                ),
            }
            for job in sorted(self.scheduler.get_jobs(), key=lambda job: str(job.id))
        ]


def _motifs(checks: Mapping[str, bool], unwritable: Unwritable | None) -> list[str]:
    """The failed checks in French, for the person reading the supervision's alert."""
    motifs = []
    if not checks["base"]:
        motifs.append("base injoignable")
    elif unwritable is not None:
        motifs.append(unwritable.motif)
    if not checks["ecoute_hl7"]:
        motifs.append("écoute HL7 arrêtée")
    if not checks["planificateur"]:
        motifs.append("planificateur des rappels arrêté")
    return motifs


def _free_mb(folder: Path) -> int | None:
    try:
        stats = os.statvfs(folder)
    except OSError:
        return None
    return stats.f_bavail * stats.f_frsize // (1024 * 1024)
