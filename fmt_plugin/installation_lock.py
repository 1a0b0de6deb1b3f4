"""The installation's exclusive lock: one `serve` (or restore, or key rotation) at a time.

Two services on one SQLite installation would run two schedulers and could send a recall
twice; a restore or a key rotation under a running service would pull the store from under
it. The lock is an `flock` on a file beside the store, so the kernel releases it when the
holder dies (no stale lock to clean after a crash). POSIX only, like the service. The file is never deleted: deleting a
lock file lets a third process lock a new inode while the second still holds the old one.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from types import TracebackType
from typing import Self

from fmt_plugin.errors import InstallationBusyError, StoreError

try:
    import fcntl
except (
    ImportError
):  # pragma: no cover - Windows has no flock; the service is POSIX-only
    fcntl = None  # type: ignore[assignment]

LOCK_SUFFIX = ".lock"


def lock_path_for(store_path: Path) -> Path:
    """The lock file of the installation whose store is `store_path`."""
    return store_path.with_name(store_path.name + LOCK_SUFFIX)


class InstallationLock:
    """An exclusive, non-blocking lock held until `release()` (or the process ends)."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd
        self._purpose = ""

    def __repr__(self) -> str:
        return f"<InstallationLock {self.path} {'held' if self._fd is not None else 'released'}>"

    @classmethod
    def acquire(cls, store_path: Path, *, purpose: str) -> InstallationLock:
        """Take the lock of the installation of `store_path` for `purpose` (e.g. "serve").

        Raises InstallationBusyError at once, touching nothing else, when another process
        holds it; StoreError when the lock file cannot be created.
        """
        path = lock_path_for(store_path)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreError(
                f"{path}: verrou de l'installation impossible à créer"
                f" ({exc.strerror or type(exc).__name__})"
            ) from exc
        try:
            _lock(fd, path)
        except BaseException:
            os.close(fd)
            raise
        lock = cls(path, fd)
        lock._describe(purpose)
        return lock

    def release(self) -> None:
        """Let another process take the installation (closing the descriptor unlocks it)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)

    @property
    def held(self) -> bool:
        """True until `release()`."""
        return self._fd is not None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def note_primary_key(self, key_id: str) -> None:
        """Say which data key the holder encrypts with (read by `keys retire`)."""
        self._describe(self._purpose, primary_key=key_id)

    def _describe(self, purpose: str, **extra: str) -> None:
        """Write who holds the lock, so that a refused process can name it."""
        self._purpose = purpose
        if self._fd is None:
            return
        info = {"pid": os.getpid(), "purpose": purpose, **extra}
        data = json.dumps(info).encode("utf-8")
        # Best effort: the flock is the lock, the text only explains it.
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, data, 0)


def holder_info(store_path: Path) -> dict[str, object]:
    """What the current holder of the installation's lock wrote about itself ({} if none).

    Only meaningful while `acquire` is refused: a released lock leaves an empty file.
    """
    path = lock_path_for(store_path)
    try:
        raw = path.read_bytes()
        info = json.loads(raw.decode("utf-8")) if raw else {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return info if isinstance(info, dict) else {}


def _lock(fd: int, path: Path) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder, pid = _holder(fd)
        raise InstallationBusyError(path, holder, pid) from None
    except OSError as exc:
        raise StoreError(
            f"{path}: verrou de l'installation impossible"
            f" ({exc.strerror or type(exc).__name__})"
        ) from exc


def _holder(fd: int) -> tuple[str | None, int | None]:
    try:
        raw = os.pread(fd, 4096, 0)
        info = json.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None, None
    if not isinstance(info, dict):
        return None, None
    purpose = info.get("purpose")
    pid = info.get("pid")
    return (
        purpose if isinstance(purpose, str) else None,
        pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
    )
