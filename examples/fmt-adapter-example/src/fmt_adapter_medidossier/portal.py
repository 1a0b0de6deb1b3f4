"""The recall channel of MédiDossier's patient portal: one JSON file per recall in its inbox.

The portal imports the files of its inbox folder and shows each recall in the patient's space.
The file names the patient by the practice's id only (the portal knows who that is). The
hook that offers the channel does no I/O; `send` writes from a worker thread, so the event
loop that awaits it never blocks on the disk.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from fmt_plugin.errors import PermanentChannelError, TemporaryChannelError
from fmt_plugin.model import Patient
from fmt_plugin.recalls.model import RecallMessage

from fmt_adapter_medidossier.export import PORTAL_FLAG

CHANNEL_NAME = "medidossier_portail"


class PortalChannel:
    """Drops recalls into the portal's inbox folder, for patients with a portal account."""

    name = CHANNEL_NAME

    def __init__(self, inbox: Path) -> None:
        self.inbox = inbox

    def can_reach(self, patient: Patient) -> bool:
        """True when MédiDossier's export said the patient has a portal account."""
        return PORTAL_FLAG in patient.flags

    async def send(self, message: RecallMessage) -> None:
        """Write the recall's file; the same recall always gets the same file name, so a
        retry replaces the file rather than adding a second recall."""
        if not self.can_reach(message.patient):
            raise PermanentChannelError(self.name, "patient sans compte sur le portail")
        try:
            await asyncio.to_thread(self._write, message)
        except OSError as exc:
            raise TemporaryChannelError(
                self.name, f"dépôt impossible dans la boîte du portail ({exc.strerror})"
            ) from exc

    def _write(self, message: RecallMessage) -> None:
        """Write atomically: the portal never imports a half-written file."""
        self.inbox.mkdir(parents=True, exist_ok=True)
        target = self.inbox / f"rappel-{message.recall_id}.json"
        partial = target.with_suffix(".part")
        partial.write_text(json.dumps(portal_payload(message)), encoding="utf-8")
        os.replace(partial, target)


def portal_payload(message: RecallMessage) -> dict[str, object]:
    """What the portal needs to show the recall: ids, indicators, the practice's contact."""
    return {
        "message_id": message.message_id,
        "patient": message.patient.patient_id,
        "destinataire": message.audience.value,
        "rappels": [
            {
                "indicateur": item.indicator,
                "libelle": item.label,
                "echeance": item.due.isoformat() if item.due else None,
            }
            for item in message.items
        ],
        "cabinet": {"nom": message.practice.name, "telephone": message.practice.phone},
    }
