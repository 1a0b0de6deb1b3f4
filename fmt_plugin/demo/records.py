"""The clinical records of the synthetic practice that travel as HL7: lab reports, vaccinations.

Plain data, one record per message: `history` draws them, `hl7_messages` writes them as
ORU^R01 / VXU^V04, and the benchmarks draw their own. EHR acts are `fmt_plugin.model.Act`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from fmt_plugin.model import Patient

#: A sending application and facility (MSH-3, MSH-4).
Facility = tuple[str, str]


@dataclass(frozen=True)
class Observation:
    """One result (an OBX): a LOINC code, its value and, for a number, its range and flag."""

    code: str
    text: str
    value: str = field(repr=False)
    value_type: str = "NM"
    unit: str = ""
    reference_range: str = ""
    flag: str = ""
    #: OBX-11: F final, C corrected, P preliminary, X cannot be obtained.
    status: str = "F"


@dataclass(frozen=True)
class LabReport:
    """A laboratory's report (one ORU^R01): results observed together for one patient."""

    patient: Patient
    sender: Facility
    observed: datetime
    sent: datetime
    observations: tuple[Observation, ...]
    #: OBR-4's text: what was ordered.
    panel: str = "BILAN"
    #: A comment (NTE) on the report, "" for none.
    note: str = ""


@dataclass(frozen=True)
class Vaccination:
    """A vaccination reported by whoever gave it (one VXU^V04)."""

    patient: Patient
    sender: Facility
    given: date
    sent: datetime
    cvx: str
    text: str
    lot: str = ""
    #: RXA-20: CP complete, RE refused, NA not administered.
    completion: str = "CP"
    #: RXA-9: recorded from the patient's booklet rather than given now.
    historical: bool = False
    #: Whether an RXR (route and site) segment follows.
    with_route: bool = False
