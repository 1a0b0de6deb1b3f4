"""The `medidossier` adapter: fmt-plugin's hooks answered from MédiDossier's exports.

Settings, in the practice's `fmt.toml`:

```toml
[adapters.medidossier]
export_dir = "/srv/medidossier/export"     # holds patients.jsonl and actes.jsonl
portal_outbox = "/srv/medidossier/portail"  # optional: offers the portal recall channel
```
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from fmt_plugin import hookimpl
from fmt_plugin.config import FmtConfig
from fmt_plugin.model import Act, AdapterInfo, Code, RecallChannel, RosterBatch

from fmt_adapter_medidossier import __version__
from fmt_adapter_medidossier.codes import translate_lab_code
from fmt_adapter_medidossier.export import SOURCE, Export, export_stamp, read_export
from fmt_adapter_medidossier.portal import PortalChannel

NAME = SOURCE
#: The hook contract version this adapter was written for. Written out, not imported from
#: fmt_plugin.hooks.specs: the point is to tell when fmt-plugin moved on without us.
HOOKS_VERSION = 1


class MediDossierAdapter:
    """Instantiated once per plugin manager by fmt-plugin (the entry point names the class).

    Inactive, every hook answering None, until `fmt_configure` finds `[adapters.medidossier]`.
    """

    def __init__(self) -> None:
        self._folder: Path | None = None
        self._export: Export | None = None
        self._channel: PortalChannel | None = None

    @hookimpl
    def fmt_adapter_info(self) -> AdapterInfo:
        """Say who we are, for `check-config` and the status page."""
        return AdapterInfo(
            name=NAME,
            version=__version__,
            description="MédiDossier : patientèle, actes et biologie (exports JSON)",
            hooks_version=HOOKS_VERSION,
        )

    @hookimpl
    def fmt_configure(self, config: FmtConfig) -> None:
        """Read `export_dir` (required, a folder) and `portal_outbox` (optional)."""
        self._folder = self._export = self._channel = None
        section = config.adapter_section(NAME)
        if section is None:
            return  # installed but not configured by this practice: stay out of the way
        folder = section.path("export_dir", must_exist=True)
        outbox = section.optional_path("portal_outbox")
        section.finish()
        if not folder.is_dir():
            raise section.error(
                "export_dir", f"{folder} n'est pas un dossier", "le dossier des exports"
            )
        self._folder = folder
        self._channel = PortalChannel(outbox) if outbox is not None else None

    @hookimpl
    def fmt_roster(self, as_of: date) -> RosterBatch | None:
        """The export read afresh (MédiDossier re-exports nightly); its problems located."""
        # `as_of` is unused: the export is a snapshot of today's patientèle.
        if self._folder is None:
            return None
        export = read_export(self._folder)
        self._export = export
        return RosterBatch(
            source=SOURCE, patients=export.patients, problems=export.problems
        )

    @hookimpl
    def fmt_patient_acts(self, patient_id: str, since: date | None) -> list[Act] | None:
        """The patient's acts on or after `since`, oldest first; None for another patient."""
        export = self._current_export()
        if export is None or patient_id not in export.acts_by_patient:
            return None
        acts = export.acts_by_patient[patient_id]
        return [act for act in acts if since is None or act.date >= since]

    @hookimpl
    def fmt_translate_code(self, system: str, code: str) -> Code | None:
        """MédiDossier lab codes → LOINC; None for anything else."""
        return translate_lab_code(system, code)

    @hookimpl
    def fmt_recall_channels(self) -> list[RecallChannel] | None:
        """The portal channel, when `portal_outbox` is set."""
        return [self._channel] if self._channel is not None else None

    def _current_export(self) -> Export | None:
        """The export, read again only when its files changed since the last reading.

        Hooks may be called from several threads (the HL7 store thread, the evaluation): the
        new `Export` is built completely, then swapped in with one assignment, so a reader
        sees the old or the new one, never half of each.
        """
        if self._folder is None:
            return None
        export = self._export
        if export is None or export.stamp != export_stamp(self._folder):
            export = read_export(self._folder)
            self._export = export
        return export
