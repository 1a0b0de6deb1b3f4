"""The `mssante` recall channel: compose the letter, add MSSanté's headers, submit it.

Reaches a patient who has an MSSanté address (the roster's, or the one derived from the
qualified INS); the hook that offers it does no I/O, `send` does it in a worker thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from email.policy import SMTP

from fmt_plugin.errors import PermanentChannelError, TemporaryChannelError
from fmt_plugin.model import Patient
from fmt_plugin.mssante.address import patient_address
from fmt_plugin.mssante.settings import MssanteSettings
from fmt_plugin.mssante.transport import CHANNEL_NAME, MssanteTransport
from fmt_plugin.recalls.letter import Letters, LetterTemplateError, shipped_letters
from fmt_plugin.recalls.model import RecallMessage

log = logging.getLogger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class MssanteChannel:
    """Sends recalls to patients' Mon espace santé mailboxes from the practice's mailbox."""

    name = CHANNEL_NAME

    def __init__(
        self,
        settings: MssanteSettings,
        *,
        letters: Letters | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.settings = settings
        self.letters = letters or shipped_letters()
        self._transport = MssanteTransport(settings, channel=self.name)
        self._clock = clock

    def __repr__(self) -> str:
        return f"MssanteChannel({self.settings.host}:{self.settings.port})"

    def address(self, patient: Patient) -> str | None:
        """The patient's MSSanté address, or None (no roster address, no qualified INS)."""
        return patient_address(patient, self.settings.address_template)

    def can_reach(self, patient: Patient) -> bool:
        """True when the patient has an MSSanté address."""
        return self.address(patient) is not None

    def headers(self) -> dict[str, str]:
        """The MSSanté headers of every message (Référentiel #2)."""
        headers = {"X-MSS-NIL": self.settings.product_reference}
        if self.settings.reply_blocked:
            headers["X-MSS-MES"] = "FIN"
        return headers

    async def send(self, message: RecallMessage) -> None:
        """Submit the recall; raise a `ChannelError` saying whether to retry (see transport).

        A letter template that fails is a temporary error: nothing was sent.
        """
        recipient = self.address(message.patient)
        if recipient is None:
            raise PermanentChannelError(
                self.name,
                f"aucune adresse MSSanté pour le patient {message.patient.patient_id}",
            )
        try:
            letter = self.letters.compose(
                message,
                sender=self.settings.sender,
                recipient=recipient,
                now=self._clock(),
                headers=self.headers(),
                replies=not self.settings.reply_blocked,
            )
        except LetterTemplateError as exc:
            # Nothing was sent: once the template is mended, a retry sends the letter.
            raise TemporaryChannelError(self.name, str(exc)) from exc
        await self._transport.submit(
            letter.as_bytes(policy=SMTP),
            sender=self.settings.sender,
            recipient=recipient,
        )
        log.info("recall %d accepted by the MSSanté server", message.recall_id)
