"""Files readable by their owner only: patient data written whole or not at all, new files.

A letter in the outbox or a report the practice exports must never be seen half-written (a
crash, a full disk) nor, even for an instant, readable by other accounts of the machine. A file
another library fills later (the scheduler's SQLite job store) or that names where the secrets
are (`fmt.toml`) is created private before its first byte, never chmod-ed afterwards.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_privately(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a private temporary file renamed over it."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # mkstemp creates the file with mode 0600, before any byte of patient data is in it.
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with contextlib.suppress(FileNotFoundError):
            keep_owner(fd, os.stat(path))
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    sync_folder(path.parent)


def keep_owner(fd: int, replaced: os.stat_result) -> None:
    """Give the file open as `fd` the owner of the file it replaces, `replaced`.

    Root running a command for the service account (rotating its key, moving its audit
    anchor) must not leave a file that account can no longer read. Only root can give a
    file away; for anyone else the new file is theirs, as the old one was.
    """
    if os.name != "posix" or os.geteuid() != 0:
        return
    if (replaced.st_uid, replaced.st_gid) != (os.geteuid(), os.getegid()):
        os.fchown(fd, replaced.st_uid, replaced.st_gid)


def create_privately(path: Path, data: bytes = b"") -> None:
    """Create `path`, mode 0600, holding `data`; `FileExistsError` if it already exists.

    O_EXCL: an existing file (or a symbolic link planted in its place) is never opened, let
    alone overwritten. On a failure after the creation the partial file is removed.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            # The umask may have cleared owner bits too (0o277): the mode must not depend on it.
            os.fchmod(out.fileno(), 0o600)
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise


def sync_folder(folder: Path) -> None:
    """Make the rename durable (POSIX only: Windows cannot open a folder for fsync)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_file(path: Path) -> None:
    """Flush `path`'s content to the disk (a file written by another library, SQLite's)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
