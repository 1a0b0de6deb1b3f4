"""The demo practice drawn from its settings: the roster, some strangers, everyone's history.

Drawn once per settings and kept: the demo adapter serves the roster and the EHR acts from it,
and the demo command sends the lab reports and vaccinations of the same histories over HL7.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from fmt_plugin.demo.history import PatientHistory, generate_history
from fmt_plugin.demo.population import (
    DEFAULT_PATIENTS,
    DEFAULT_SEED,
    generate_population,
)
from fmt_plugin.demo.records import LabReport, Vaccination
from fmt_plugin.model import Patient

#: Share of people in the HL7 traffic whom the practice does not know (another doctor's
#: patients, a namesake): their messages go to quarantine.
STRANGER_SHARE = 0.01


@dataclass(frozen=True)
class DemoSettings:
    """The `[adapters.demo]` table: what to draw, and the day the history stops."""

    reference_date: date
    seed: int = DEFAULT_SEED
    patients: int = DEFAULT_PATIENTS


@dataclass(frozen=True)
class DemoPractice:
    """The practice's patients, people it does not know, and the history of both."""

    settings: DemoSettings
    roster: tuple[Patient, ...]
    strangers: tuple[Patient, ...]
    histories: Mapping[str, PatientHistory]

    def hl7_records(self) -> list[LabReport | Vaccination]:
        """Every lab report and vaccination of everyone, roster and strangers."""
        records: list[LabReport | Vaccination] = []
        for history in self.histories.values():
            records.extend(history.lab_reports)
            records.extend(history.vaccinations)
        return records


def draw_practice(settings: DemoSettings) -> DemoPractice:
    """The practice these settings describe; the same settings give the same practice."""
    strangers = max(1, round(settings.patients * STRANGER_SHARE))
    everyone = generate_population(
        settings.patients + strangers, settings.seed, settings.reference_date
    )
    return DemoPractice(
        settings=settings,
        roster=tuple(everyone[: settings.patients]),
        strangers=tuple(everyone[settings.patients :]),
        histories=generate_history(everyone, settings.seed, settings.reference_date),
    )
