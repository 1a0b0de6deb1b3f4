"""The built-in `demo` adapter: a synthetic practice's patientèle and EHR acts, drawn from a seed.

Inactive (every hook answers None) until the configuration has an `[adapters.demo]` table, as
`fmt-plugin demo` writes it:

    [adapters.demo]
    seed = 2026
    patients = 1500
    reference_date = 2026-03-15

`reference_date` anchors the synthetic history (the day it stops), so that the same patients
and the same acts come back on any later day. Nothing here is real data.
"""

from __future__ import annotations

from datetime import date

from fmt_plugin import __version__
from fmt_plugin.config import FmtConfig
from fmt_plugin.demo.population import DEFAULT_PATIENTS, DEFAULT_SEED
from fmt_plugin.demo.practice import DemoPractice, DemoSettings, draw_practice
from fmt_plugin.hooks import hookimpl
from fmt_plugin.model import Act, AdapterInfo, RosterBatch

NAME = "demo"


def config_block(settings: DemoSettings) -> str:
    """The annotated `[adapters.demo]` table for `settings`, as `fmt.toml` holds it."""
    return (
        "# Adaptateur intégré « demo » : un cabinet fictif (patients, actes du dossier\n"
        "# médical, historique de trois ans) tiré au sort à partir de ces réglages.\n"
        "# Aucune donnée réelle.\n"
        "[adapters.demo]\n"
        f"seed = {settings.seed}\n"
        f"patients = {settings.patients}\n"
        "# Jour où s'arrête l'historique fictif (la création de la démonstration) : les\n"
        "# mêmes patients et les mêmes actes reviennent quel que soit le jour du lancement.\n"
        f"reference_date = {settings.reference_date.isoformat()}\n"
    )


class DemoAdapter:
    """Serves `fmt_roster` and `fmt_patient_acts` from the practice `[adapters.demo]` describes.

    The practice is drawn on first use, not at configuration: the service's plugin manager,
    which only ingests messages, never pays for it. `trylast`, like every built-in.
    """

    name = NAME

    def __init__(self) -> None:
        self._settings: DemoSettings | None = None
        self._practice: DemoPractice | None = None
        self._acts: dict[str, tuple[Act, ...]] = {}

    @hookimpl
    def fmt_adapter_info(self) -> AdapterInfo:
        """Name this built-in."""
        return AdapterInfo(
            name=NAME,
            version=__version__,
            description="cabinet de démonstration : patientèle et actes fictifs",
        )

    @hookimpl
    def fmt_configure(self, config: FmtConfig) -> None:
        """Read `reference_date` (required), `seed` and `patients`."""
        self._settings = self._practice = None
        self._acts = {}
        section = config.adapter_section(NAME)
        if section is None:
            return
        seed = section.integer("seed", DEFAULT_SEED, minimum=0)
        patients = section.integer("patients", DEFAULT_PATIENTS, minimum=1)
        reference_date = section.date("reference_date")
        section.finish()
        self._settings = DemoSettings(reference_date, seed, patients)

    def practice(self) -> DemoPractice | None:
        """The configured practice (drawn now if not yet), or None when not configured."""
        if self._settings is None:
            return None
        if self._practice is None:
            self._practice = draw_practice(self._settings)
            self._acts = {
                patient_id: history.acts
                for patient_id, history in self._practice.histories.items()
            }
            for stranger in self._practice.strangers:
                del self._acts[stranger.patient_id]  # not the practice's patients
        return self._practice

    @hookimpl(trylast=True)
    def fmt_roster(self, as_of: date) -> RosterBatch | None:
        """The synthetic patientèle; the same whatever `as_of` (it is anchored to its date)."""
        practice = self.practice()
        if practice is None:
            return None
        return RosterBatch(source=NAME, patients=practice.roster)

    @hookimpl(trylast=True)
    def fmt_patient_acts(self, patient_id: str, since: date | None) -> list[Act] | None:
        """The patient's acts on or after `since`, oldest first; None for a patient not ours."""
        if self.practice() is None or patient_id not in self._acts:
            return None
        return [
            act for act in self._acts[patient_id] if since is None or act.date >= since
        ]
