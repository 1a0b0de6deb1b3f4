"""The project's exception hierarchy, one subclass per failure domain, and the CLI exit statuses.

Messages never carry patient data: they name files, lines, keys, plugins and internal patient ids.
"""

from __future__ import annotations

from enum import IntEnum
from pathlib import Path


class ExitStatus(IntEnum):
    """Exit statuses of the `fmt-plugin` command."""

    OK = 0
    FAILURE = 1  # the command ran and found a problem (e.g. a broken audit chain)
    USAGE = 2  # bad configuration, arguments or installation: nothing was done
    INTERNAL = 70  # a bug: EX_SOFTWARE from sysexits.h


class FmtError(Exception):
    """Base of every error fmt-plugin raises on purpose; `str()` is the user message."""

    exit_status: ExitStatus = ExitStatus.FAILURE


class ConfigError(FmtError):
    """The configuration (file, key file, or an adapter's settings) is unusable.

    `path` is the file at fault, `key` the dotted setting (e.g. `store.path`), `expected` what
    would have been accepted.
    """

    exit_status = ExitStatus.USAGE

    def __init__(
        self,
        message: str,
        *,
        path: Path | str | None = None,
        key: str | None = None,
        expected: str | None = None,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.key = key
        self.expected = expected
        self.message = message
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.path is not None:
            where.append(str(self.path))
        if self.key is not None:
            where.append(f"clé « {self.key} »")
        text = ": ".join([", ".join(where), self.message]) if where else self.message
        if self.expected:
            text += f" (attendu : {self.expected})"
        return text


class KeyFileError(ConfigError):
    """The key file is missing, unreadable, malformed or too widely readable."""


class PluginError(FmtError):
    """An adapter failed to load, to validate against the hook specs, or to configure itself."""

    exit_status = ExitStatus.USAGE

    def __init__(self, plugin: str, message: str) -> None:
        self.plugin = plugin
        super().__init__(f"adaptateur « {plugin} » : {message}")


class UsageError(FmtError):
    """A command's argument names something that does not exist (e.g. an unknown recall id)."""

    exit_status = ExitStatus.USAGE


class InputError(FmtError):
    """A record of an input file is invalid; `path`, `line` and `column` locate it."""

    def __init__(
        self,
        message: str,
        *,
        path: Path | str | None = None,
        line: int | None = None,
        column: str | None = None,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.line = line
        self.column = column
        self.message = message
        location = ""
        if self.path is not None:
            location = str(self.path)
            if line is not None:
                location += f", ligne {line}"
        if column is not None:
            location += f"{', ' if location else ''}colonne « {column} »"
        super().__init__(f"{location}: {message}" if location else message)


class StoreError(FmtError):
    """The encrypted store cannot be opened, migrated or written."""


class DecryptionError(StoreError):
    """A value could not be decrypted: wrong key, tampered data or a ciphertext moved to another record.

    Deliberately opaque (like Fernet's `InvalidToken`): the reason is never told apart.
    """

    def __init__(self) -> None:
        super().__init__("une donnée chiffrée n'a pas pu être déchiffrée")


class AuditChainError(FmtError):
    """The audit log's HMAC chain does not verify; `seq` is the first broken entry."""

    def __init__(self, seq: int, reason: str) -> None:
        self.seq = seq
        self.reason = reason
        super().__init__(f"journal d'audit rompu à l'entrée n° {seq} : {reason}")


class Hl7Error(FmtError):
    """An HL7 v2 message cannot be used; `code` is its HL7 table 0357 error code.

    `segment` and `field` locate the fault (`segment_index` is ERL.2, the occurrence of that
    segment in the message: 1 for the first OBX), so an ACK's ERR-2 and a quarantine reason
    can point at it. The message never
    quotes field content: a value may be health data.
    """

    def __init__(
        self,
        reason: str,
        *,
        code: int = 207,
        segment: str | None = None,
        segment_index: int | None = None,
        field: int | None = None,
    ) -> None:
        self.reason = reason
        self.code = code
        self.segment = segment
        self.segment_index = segment_index
        self.field = field
        super().__init__(f"{self.location} : {reason}" if self.location else reason)

    @property
    def location(self) -> str:
        """`PID-3`, `OBX-11 (OBX n° 2)`, `MSH`, or "" when not in one segment."""
        if self.segment is None:
            return ""
        where = (
            f"{self.segment}-{self.field}" if self.field is not None else self.segment
        )
        if self.segment_index is not None and self.segment_index > 1:
            where += f" ({self.segment} n° {self.segment_index})"
        return where

    @property
    def err_location(self) -> str:
        """ERR-2 (ERL) as `SEG^sequence^field`, or "" when unknown."""
        if self.segment is None:
            return ""
        parts = [self.segment, str(self.segment_index or 1)]
        if self.field is not None:
            parts.append(str(self.field))
        return "^".join(parts)


class Hl7ParseError(Hl7Error):
    """The bytes are not a parseable HL7 v2 message (answered AR)."""


class ChannelError(FmtError):
    """A recall channel could not deliver a message.

    `channel` is the channel's name; `code` the transport's own status when there is one
    (e.g. the SMTP reply code). The message says why without any patient data (no address,
    no name: the outbox id is what logs carry).
    """

    #: Whether a later attempt on the same channel may succeed.
    temporary: bool = False
    #: Whether the message may have reached the server anyway (the connection broke after the
    #: content was handed over): such a recall is never re-sent automatically.
    uncertain: bool = False

    def __init__(self, channel: str, reason: str, *, code: int | None = None) -> None:
        self.channel = channel
        self.reason = reason
        self.code = code
        detail = f" ({code})" if code is not None else ""
        super().__init__(f"canal « {channel} »{detail} : {reason}")


class TemporaryChannelError(ChannelError):
    """A failure worth retrying later on the same channel (SMTP 4xx, network, timeout)."""

    temporary = True


class PermanentChannelError(ChannelError):
    """A failure that retrying will not fix (SMTP 5xx, no address): try the next channel."""


class UncertainDeliveryError(ChannelError):
    """The content was handed to the server but its answer never came back."""

    uncertain = True


class ShutdownTimeoutError(FmtError):
    """The service could not stop within `[service] shutdown_timeout_s`.

    Whatever was not finished is safe: a message not yet committed was not acknowledged (the
    sender sends it again) and a recall being handed over is found `uncertain` at the next start.
    """


class InstallationBusyError(FmtError):
    """Another process holds the installation's exclusive lock (a running `serve`, a restore).

    `holder` is what that process said it was doing and `pid` its process id, when known.
    """

    exit_status = ExitStatus.USAGE

    def __init__(self, lock_path: Path, holder: str | None, pid: int | None) -> None:
        self.lock_path = lock_path
        self.holder = holder
        self.pid = pid
        who = f"« {holder} »" if holder else "un autre processus"
        if pid is not None:
            who += f" (pid {pid})"
        super().__init__(
            f"{lock_path}: installation déjà utilisée par {who} ; un seul service par"
            " installation : arrêtez-le d'abord (systemctl stop fmt-plugin)"
        )


class KeyRotationError(FmtError):
    """A key rotation step refused or stopped: values left under an old key, a service still
    encrypting with it, a value that does not decrypt. Nothing was lost; the message says
    what to do."""
