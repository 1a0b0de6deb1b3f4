"""The `file` recall channel: each message written as an `.eml` file into an outbox folder.

The embedded default of a first installation: nothing leaves the machine, and the practice
can open the files to see exactly what would be sent. The files hold patient data, so they
are readable by their owner only (0600) and written atomically: a reader or a crash never
sees half a letter.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from email.policy import SMTP
from pathlib import Path

from fmt_plugin.errors import ConfigError, TemporaryChannelError
from fmt_plugin.model import Patient
from fmt_plugin.mssante.address import DEFAULT_ADDRESS_TEMPLATE, patient_address
from fmt_plugin.private_files import write_privately
from fmt_plugin.recalls.letter import Letters, LetterTemplateError, shipped_letters
from fmt_plugin.recalls.model import RecallMessage

log = logging.getLogger(__name__)

CHANNEL_NAME = "file"
#: The sender written when the configuration names none (`.invalid` can never be delivered).
DEFAULT_FILE_SENDER = "cabinet@outbox.invalid"


def _utc_now() -> datetime:
    return datetime.now(UTC)


class FileChannel:
    """Writes `<recall id>-<short id>.eml` into `folder`; reaches every patient."""

    name = CHANNEL_NAME

    def __init__(
        self,
        folder: Path,
        sender: str = DEFAULT_FILE_SENDER,
        *,
        address_template: str = DEFAULT_ADDRESS_TEMPLATE,
        letters: Letters | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.folder = folder
        self.sender = sender
        self._template = address_template
        self.letters = letters or shipped_letters()
        self._clock = clock

    def __repr__(self) -> str:
        return f"FileChannel(folder={str(self.folder)!r})"

    def check(self) -> None:
        """Create the folder if needed; `ConfigError` when it cannot be created or written."""
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"dossier {self.folder} impossible à créer ({exc.strerror or exc})",
                key="channels.file.folder",
            ) from exc
        if not os.access(self.folder, os.W_OK | os.X_OK):
            raise ConfigError(
                f"dossier {self.folder} non accessible en écriture",
                key="channels.file.folder",
            )

    def can_reach(self, patient: Patient) -> bool:
        """Always: a file needs no address."""
        return True

    def recipient(self, patient: Patient) -> str:
        """The patient's MSSanté address when one is known, else a placeholder on their id."""
        return (
            patient_address(patient, self._template)
            or f"patient-{patient.patient_id}@outbox.invalid"
        )

    def path_for(self, message: RecallMessage) -> Path:
        """Where `message` is written: the same path on every attempt, so a retry overwrites."""
        # The hash of the Message-ID keeps two stores' recall n° 1 apart in a shared folder.
        short = hashlib.sha256(message.message_id.encode()).hexdigest()[:8]
        return self.folder / f"{message.recall_id}-{short}.eml"

    async def send(self, message: RecallMessage) -> None:
        """Write the message's file; `TemporaryChannelError` when the folder is unwritable."""
        await asyncio.to_thread(self.write, message)

    def write(self, message: RecallMessage) -> Path:
        """Write the message's file atomically and return its path (blocking).

        On failure nothing is left behind (the temporary file is removed) and
        `TemporaryChannelError` names the folder and the system's reason, or the letter
        template at fault (retried once the template is mended).
        """
        try:
            # Nothing to answer: a file is not delivered, so the letter offers no reply.
            letter = self.letters.compose(
                message,
                sender=self.sender,
                recipient=self.recipient(message.patient),
                now=self._clock(),
            )
        except LetterTemplateError as exc:
            raise TemporaryChannelError(self.name, str(exc)) from exc
        path = self.path_for(message)
        try:
            write_privately(path, letter.as_bytes(policy=SMTP))
        except OSError as exc:
            raise TemporaryChannelError(
                self.name,
                f"écriture impossible dans {self.folder} ({exc.strerror or exc})",
            ) from exc
        log.info("recall %d written to the outbox folder", message.recall_id)
        return path
