"""Refuse a private file (a TLS or client key) that accounts other than its owner may use.

A private key readable by the group or by others is no longer private: whoever can read it can
impersonate the practice's listener, dashboard or mailbox. The service therefore refuses to
start rather than warn, with the same message as for the store's key file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from fmt_plugin.errors import ConfigError

#: The mode a private file must have (0400 is accepted too: it is only stricter).
PRIVATE_MODE = "0600"
#: The command that fixes a too open file, quoted in the message before the file's path.
FIX_MODE_HINT = "chmod 600"
#: The bits that must be clear: any access by the group or by others.
_OPEN_BITS = 0o077


def too_open_message(mode: int, path: Path | str) -> str:
    """The message for a file at `path` whose `st_mode` (or permission bits) is `mode`."""
    return (
        f"permissions trop ouvertes ({stat.S_IMODE(mode):04o}) :"
        f" le groupe ou les autres y ont accès ; corrigez avec"
        f" « {FIX_MODE_HINT} {path} »"
    )


def check_private_stat(
    info: os.stat_result,
    path: Path | str,
    *,
    key: str | None = None,
    error: type[ConfigError] = ConfigError,
) -> None:
    """Raise `error` unless `info` (of the file at `path`) is a regular file only its owner uses.

    For a caller that already holds the file open and checks `os.fstat` of its descriptor, so
    that the file checked is the file read (`storage.keys` passes `error=KeyFileError`).
    """
    if not stat.S_ISREG(info.st_mode):
        raise error("ce n'est pas un fichier ordinaire", path=path, key=key)
    if info.st_mode & _OPEN_BITS:
        raise error(
            too_open_message(info.st_mode, path),
            path=path,
            key=key,
            expected=PRIVATE_MODE,
        )


def check_private_mode(path: Path, *, key: str | None = None) -> None:
    """Raise `ConfigError` naming `path` and the setting `key` unless only its owner may use it.

    `os.stat` follows symbolic links: what matters is the mode of the file the key is read
    from, not the link's (which is always 0777). Nothing is opened or read.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ConfigError("fichier introuvable", path=path, key=key) from None
    except OSError as exc:
        raise ConfigError(
            f"fichier illisible ({exc.strerror or type(exc).__name__})",
            path=path,
            key=key,
        ) from exc
    check_private_stat(info, path, key=key)
