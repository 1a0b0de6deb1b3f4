"""Re-evaluate, in the background, the patients whose messages were just committed.

The listener acknowledges a message as soon as it is committed; what the message changes for
the patient (a HbA1c making `suivi_hba1c` `fait`) is then evaluated here, a moment later, on a
thread and a store connection of its own, so no ACK ever waits for an evaluation. The new
statuses replace the remembered ones (encrypted) and every change goes to the adapters'
`fmt_status_changed` within seconds, not only at the nightly snapshot (which still
re-evaluates everyone, so a date change reaches every patient).

Patients named in a burst are coalesced: one evaluation for all of them after `delay_s`.
While the listener keeps committing (`defer_while`), the evaluation waits for a pause of
QUIET_S, for at most `max_defer_s`: its own commit of the new statuses would take SQLite's
write lock, and the listener's next commit, waiting in SQLite's busy handler, would be
acknowledged milliseconds late (bench/README.md, issue 17: the p99 ACK went from 6.3 to 1.4 ms).

When it starts, and whenever the date changes (checked every minute), every active patient
whose statuses were not evaluated today is re-evaluated too: a new installation's roster, or
due dates that passed overnight, show on the dashboard without waiting for the nightly
snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from functools import partial
from pathlib import Path
from typing import TypeVar

from fmt_plugin.evaluation import evaluate_practice, select_rule_pack
from fmt_plugin.installation import Installation, open_installation
from fmt_plugin.status_tracking import track_status_changes
from fmt_plugin.timezone import today_in_paris

log = logging.getLogger(__name__)
T = TypeVar("T")

#: How long a burst of messages is gathered before its patients are evaluated together.
DEFAULT_DELAY_S = 0.5
#: How often the refresher looks whether the date changed.
DAY_CHECK_S = 60.0
#: Patients re-evaluated per step of a whole-practice catch-up.
STALE_SLICE = 500
#: The pause in the listener's commits an evaluation waits for.
QUIET_S = 0.05
#: The longest an evaluation waits for that pause under a steady flow of messages.
MAX_DEFER_S = 5.0


def refresh_statuses(
    installation: Installation, patient_ids: Iterable[str], as_of: date
) -> tuple[int, int]:
    """Evaluate these patients at `as_of`, remember and notify their statuses now.

    On the caller's thread and store connection (the refresher's, or the dashboard's after
    a quarantined message is replayed). Returns (patients evaluated, statuses changed).
    """
    pack = select_rule_pack(installation.config, installation.pm)
    practice = evaluate_practice(
        installation.store,
        installation.pm,
        pack,
        as_of,
        patient_ids=sorted(set(patient_ids)),
    )
    changes = track_status_changes(installation.store, installation.pm, practice)
    return len(practice.evaluations), changes


class StatusRefresher:
    """Keeps the remembered statuses of recently-written patients current."""

    def __init__(
        self,
        config_path: Path,
        *,
        delay_s: float = DEFAULT_DELAY_S,
        today: Callable[[], date] = today_in_paris,
        max_defer_s: float = MAX_DEFER_S,
    ) -> None:
        self._config_path = config_path
        self._delay_s = delay_s
        self._max_defer_s = max_defer_s
        self._busy: Callable[[], bool] = lambda: False
        self._today = today
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="fmt-statuses")
        self._installation: Installation | None = None
        self._pending: set[str] = set()
        #: Patients not evaluated today, refreshed a slice at a time when nothing is pending.
        self._stale: set[str] = set()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = False
        self._day: date | None = None
        self._task: asyncio.Task[None] | None = None
        #: Evaluations run, patients re-evaluated since start, and the changes they made.
        self.runs = 0
        self.refreshed = 0
        self.changes = 0

    async def start(self) -> None:
        """Open the installation on the refresher's own thread and start waiting."""
        self._installation = await self._on_thread(
            lambda: open_installation(self._config_path)
        )
        self._task = asyncio.create_task(self._loop(), name="fmt-status-refresh")
        self.check_date()  # the patients not evaluated today, at once

    def defer_while(self, busy: Callable[[], bool]) -> None:
        """Evaluate only once `busy()` says False (the listener paused), or MAX_DEFER_S on."""
        self._busy = busy

    def check_date(self) -> None:
        """Look now whether the date changed (it is also looked at every minute)."""
        self._idle.clear()
        self._wake.set()

    def notify(self, patient_ids: Iterable[str]) -> None:
        """These patients' records changed: evaluate them soon (returns at once)."""
        new = set(patient_ids)
        if not new:
            return
        self._pending |= new
        self._idle.clear()
        self._wake.set()

    async def idle(self) -> None:
        """Wait until every patient notified so far, and every stale one, is re-evaluated."""
        await self._idle.wait()

    async def stop(self) -> None:
        """Evaluate what is pending, then close the store connection and the thread."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        if self._installation is not None:
            await self._on_thread(self._installation.close)
            self._installation = None
        self._executor.shutdown(wait=True)

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), DAY_CHECK_S)
            self._wake.clear()
            if not self._stopping and self._today() != self._day:
                await self._add_stale_patients()
            if self._pending and not self._stopping:
                await asyncio.sleep(self._delay_s)  # gather the rest of the burst
            if self._pending:
                batch, self._pending = self._pending, set()
                await self._refresh_batch(batch)
            elif self._stale and not self._stopping:
                # A slice at a time: notified patients and a stop never wait for the
                # whole practice (a stop leaves the rest to the next start).
                batch = set(itertools.islice(self._stale, STALE_SLICE))
                self._stale -= batch
                await self._refresh_batch(batch)
            if self._stale and not self._stopping:
                self._wake.set()  # the next slice at once, not at the next minute
            elif not self._pending:
                self._idle.set()
            if self._stopping and not self._pending:
                return

    async def _wait_for_quiet(self) -> None:
        waited = 0.0
        while not self._stopping and waited < self._max_defer_s and self._busy():
            await asyncio.sleep(QUIET_S)
            waited += QUIET_S

    async def _refresh_batch(self, batch: set[str]) -> None:
        await self._wait_for_quiet()
        try:
            await self._on_thread(partial(self._refresh, batch))
        except Exception as exc:  # noqa: BLE001 -- the nightly run catches up
            log.error(
                "background re-evaluation of %d patient(s) failed: %s",
                len(batch),
                type(exc).__name__,
            )

    async def _add_stale_patients(self) -> None:
        day = self._today()
        try:
            stale = await self._on_thread(partial(self._stale_patients, day))
        except Exception as exc:  # noqa: BLE001 -- looked at again next minute
            log.error(
                "could not list the patients to re-evaluate: %s", type(exc).__name__
            )
            return
        self._day = day
        if stale:
            log.info("re-evaluating %d patient(s) not evaluated on %s", len(stale), day)
            self._stale |= stale

    def _stale_patients(self, day: date) -> set[str]:
        installation = self._installation
        if installation is None:
            raise RuntimeError("status refresher not started")
        evaluated = installation.store.statuses.evaluated_on()
        return {
            patient_id
            for patient_id in installation.store.patient_ids()
            if evaluated.get(patient_id) != day
        }

    def _refresh(self, patient_ids: set[str]) -> None:
        installation = self._installation
        if installation is None:
            raise RuntimeError("status refresher not started")
        evaluated, changes = refresh_statuses(installation, patient_ids, self._today())
        self.changes += changes
        self.refreshed += evaluated
        self.runs += 1

    async def _on_thread(self, function: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, function
        )
