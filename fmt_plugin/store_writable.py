"""Whether the running service's store can be written now, and if not why, in French.

A store that answers reads can still refuse every commit: disk full, file system turned
read-only after disk errors. Three signals, cheapest first:

- the file system's free space and read-only flag (`os.statvfs`), on every check;
- a committed heartbeat row (`Store.write_health_probe`), at most once per
  `PROBE_INTERVAL_S` whatever the supervision's rhythm;
- the ingest's last failed commit (`IngestReceiver.write_failure`), which stays until a
  message commits again (the sender resends the message it got no ACK for).

A small write may still succeed on a full disk (SQLite reuses its WAL file's pages), hence
the free-space threshold. The reasons name a cause, never a message or a patient.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from fmt_plugin.errors import StoreError
from fmt_plugin.storage.store import Store
from fmt_plugin.timezone import PARIS

log = logging.getLogger(__name__)

#: At most one heartbeat commit per this many seconds.
PROBE_INTERVAL_S = 5.0
#: A heartbeat slower than this counts as a failure (the store thread may be stuck on I/O).
PROBE_TIMEOUT_S = 2.0
#: Beside the store, created and removed to ask the file system itself why writes fail.
PROBE_FILE_SUFFIX = ".probe"

FULL = "disque plein"
READ_ONLY = "lecture seule"
IO_ERROR = "erreur d'entrée-sortie du disque"
LOCKED = "base verrouillée par un autre programme"
TOO_SLOW = "écriture trop lente"
OTHER = "écriture refusée"

# SQLite's primary result codes (the low byte of an extended code).
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY, _SQLITE_IOERR, _SQLITE_FULL = (
    5,
    6,
    8,
    10,
    13,
)
_MB = 1024 * 1024
T = TypeVar("T")


@dataclass(frozen=True)
class WriteFailure:
    """A run of failed commits that started at `since`; `sqlite_code` as SQLite gave it."""

    since: datetime
    sqlite_code: int | None


@dataclass(frozen=True)
class Unwritable:
    """Why the store cannot be written: `reason` in French, since when if known."""

    reason: str
    since: datetime | None = None

    @property
    def motif(self) -> str:
        """The line `/health` shows: « base non inscriptible : disque plein, depuis … »."""
        text = f"base non inscriptible : {self.reason}"
        if self.since is not None:
            text += f", depuis {self.since.isoformat(timespec='seconds')}"
        return text


def sqlite_code_of(exc: BaseException) -> int | None:
    """The SQLite result code behind `exc` (a StoreError wraps the sqlite3 error)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, sqlite3.Error):
            return getattr(seen, "sqlite_errorcode", None)
        seen = seen.__cause__
    return None


def is_write_failure(exc: BaseException) -> bool:
    """True for a commit SQLite refused (not for a bug, nor a refusal of ours)."""
    return isinstance(exc, StoreError) and sqlite_code_of(exc) is not None


def free_space_problem(folder: Path, min_free_mb: int) -> Unwritable | None:
    """Read-only flag or free space under `min_free_mb` on the store's file system."""
    try:
        stats = os.statvfs(folder)
    except OSError as exc:
        return Unwritable(
            f"dossier de la base inaccessible ({errno.errorcode.get(exc.errno or 0, '?')})"
        )
    if stats.f_flag & os.ST_RDONLY:
        return Unwritable(READ_ONLY)
    free_mb = stats.f_bavail * stats.f_frsize // _MB
    if min_free_mb and free_mb < min_free_mb:
        return Unwritable(
            f"{FULL} ({free_mb} Mo libres, seuil store.min_free_mb = {min_free_mb} Mo)"
        )
    return None


def failure_reason(sqlite_code: int | None, store_path: Path) -> str:
    """The cause of a refused commit in French; asks the file system when SQLite cannot tell.

    SQLite reports a file system turned read-only under an open database as a plain I/O
    error: writing a byte beside the store tells EROFS from ENOSPC from a failing disk.
    """
    primary = None if sqlite_code is None else sqlite_code & 0xFF
    if primary == _SQLITE_FULL:
        return FULL
    if primary == _SQLITE_READONLY:
        return READ_ONLY
    if primary in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return LOCKED
    return _file_system_refusal(store_path) or (
        IO_ERROR if primary == _SQLITE_IOERR else OTHER
    )


def _file_system_refusal(store_path: Path) -> str | None:
    probe = store_path.with_name(store_path.name + PROBE_FILE_SUFFIX)
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"\0")
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        if exc.errno == errno.EROFS:
            return READ_ONLY
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return FULL
        if exc.errno == errno.EIO:
            return IO_ERROR
        return None
    with contextlib.suppress(OSError):
        probe.unlink()
    return None


@dataclass
class StoreWritability:
    """Checks the three signals for one running service; used on its event loop only.

    `on_store_thread` runs a function on the store's thread (the only one that may use
    `store`); `ingest_failure` reads the receiver's last failed commit.
    """

    store: Store
    min_free_mb: int
    on_store_thread: Callable[[Callable[[], None]], Awaitable[None]]
    ingest_failure: Callable[[], WriteFailure | None]
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(PARIS))
    monotonic: Callable[[], float] = time.monotonic
    interval_s: float = PROBE_INTERVAL_S
    _probed_at: float | None = field(default=None, init=False)
    _probe_failure: WriteFailure | None = field(default=None, init=False)
    _probe_timed_out: bool = field(default=False, init=False)

    @property
    def store_path(self) -> Path:
        return self.store.path

    async def problem(self) -> Unwritable | None:
        """Why the store cannot be written now, or None when it can."""
        space = await asyncio.to_thread(
            free_space_problem, self.store_path.parent, self.min_free_mb
        )
        if space is not None:
            return space
        await self._probe_if_due()
        failure = self._probe_failure or self.ingest_failure()
        if failure is None:
            return None
        if self._probe_timed_out and failure is self._probe_failure:
            return Unwritable(TOO_SLOW, failure.since)
        reason = await asyncio.to_thread(
            failure_reason, failure.sqlite_code, self.store_path
        )
        return Unwritable(reason, failure.since)

    async def _probe_if_due(self) -> None:
        now = self.monotonic()
        if self._probed_at is not None and now - self._probed_at < self.interval_s:
            return
        self._probed_at = now
        at = self.clock()
        try:
            await asyncio.wait_for(
                self.on_store_thread(lambda: self.store.write_health_probe(at)),
                PROBE_TIMEOUT_S,
            )
        except TimeoutError:
            self._failed(at, None, timed_out=True)
        except StoreError as exc:
            self._failed(at, sqlite_code_of(exc), timed_out=False)
        else:
            if self._probe_failure is not None:
                log.warning("store writable again (health probe committed)")
            self._probe_failure = None
            self._probe_timed_out = False

    def _failed(self, at: datetime, code: int | None, *, timed_out: bool) -> None:
        if self._probe_failure is None:
            log.error(
                "health probe: the store refused a commit (%s)",
                "timeout" if timed_out else f"SQLite code {code}",
            )
            self._probe_failure = WriteFailure(at, code)
        self._probe_timed_out = timed_out
