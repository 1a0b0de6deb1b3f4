"""Write the synthetic practice's records as HL7 v2.5 messages: ORU^R01 and VXU^V04.

The shape is that of `tests/data/public_scenario/messages/*.hl7`: segments ending with `\\r`,
MSH-12 `2.5`, MSH-18 `UNICODE UTF-8`, PID-3 `<INS>^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS
~<patient_id>^^^CABINET&…^PI`. Messages are UTF-8 bytes (a patient with an accented name makes
a message that is not ASCII), unframed. MSH-15/16 are the caller's: original mode (both empty,
answered AA/AE/AR) by default, or enhanced mode (`ENHANCED_ACK_TYPES`, answered CA).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from fmt_plugin.demo.records import Facility, LabReport, Vaccination
from fmt_plugin.model import Patient

INS_AUTHORITY = "ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO"
PRACTICE_AUTHORITY = "CABINET&1.2.250.1.999.1&ISO"

#: MSH-15 and MSH-16: enhanced mode, accept ACK always, no application ACK.
ENHANCED_ACK_TYPES = ("AL", "NE")
#: Both empty: original acknowledgement mode.
ORIGINAL_ACK_TYPES = ("", "")

LAB_REPORT_TYPE = "ORU^R01^ORU_R01"
VACCINATION_TYPE = "VXU^V04^VXU_V04"


def control_id(prefix: str, seed: int, index: int) -> str:
    """MSH-10 of message `index` (0-based): unique per prefix and seed, at most 20 characters."""
    return f"{prefix}{seed % 100_000}N{index:09d}"


def history_messages(
    records: Iterable[LabReport | Vaccination],
    seed: int,
    *,
    prefix: str = "D",
    ack_types: tuple[str, str] = ORIGINAL_ACK_TYPES,
) -> list[bytes]:
    """Every record as a message, in the order they were sent; MSH-10 numbered in that order.

    The same records give the same bytes: a replay is recognised as duplicates.
    """
    ordered = sorted(records, key=_sending_order)
    return [
        message(record, control_id(prefix, seed, index), index, ack_types)
        for index, record in enumerate(ordered)
    ]


def _sending_order(record: LabReport | Vaccination) -> tuple[datetime, str]:
    return record.sent, record.patient.patient_id


def message(
    record: LabReport | Vaccination,
    message_id: str,
    index: int,
    ack_types: tuple[str, str] = ORIGINAL_ACK_TYPES,
) -> bytes:
    """One record as an HL7 message; `index` numbers its order and filler ids."""
    if isinstance(record, LabReport):
        message_type, segments = LAB_REPORT_TYPE, lab_report_segments(record, index)
    else:
        message_type, segments = VACCINATION_TYPE, vaccination_segments(record, index)
    header = msh(record.sender, record.sent, message_type, message_id, ack_types)
    return ("\r".join((header, *segments)) + "\r").encode("utf-8")


def segment(name: str, fields: dict[int, str]) -> str:
    """`name|…` with each value at its HL7 field number (1-based), empty fields between."""
    cells = [""] * max(fields)
    for number, value in fields.items():
        cells[number - 1] = value
    return "|".join((name, *cells))


def msh(
    sender: Facility,
    sent: datetime,
    message_type: str,
    message_id: str,
    ack_types: tuple[str, str],
) -> str:
    """The MSH segment, addressed to fmt-plugin at the practice."""
    # MSH-1 is the field separator itself, so the segment is written out by hand.
    return (
        f"MSH|^~\\&|{sender[0]}|{sender[1]}|FMT|CABINET|{sent:%Y%m%d%H%M%S}||"
        f"{message_type}|{message_id}|P|2.5|||{ack_types[0]}|{ack_types[1]}|FRA|"
        "UNICODE UTF-8"
    )


def pid(patient: Patient) -> str:
    """The PID segment: INS and practice id in PID-3, name, birth date, sex."""
    birth = f"{patient.birth_date:%Y%m%d}" if patient.birth_date else ""
    return segment(
        "PID",
        {
            1: "1",
            3: f"{patient.ins}^^^{INS_AUTHORITY}^INS"
            f"~{patient.patient_id}^^^{PRACTICE_AUTHORITY}^PI",
            5: f"{patient.nom}^{patient.prenom}^^^^^L",
            7: birth,
            8: patient.sex or "U",
        },
    )


def lab_report_segments(report: LabReport, index: int) -> list[str]:
    """PID, OBR and one OBX per observation (and an NTE when the report has a note)."""
    when = f"{report.observed:%Y%m%d%H%M}"
    segments = [
        pid(report.patient),
        segment(
            "OBR",
            {
                1: "1",
                2: f"CMD{index}",
                3: f"RES{index}",
                4: f"^{report.panel}^L",
                7: when,
            },
        ),
    ]
    for set_id, observation in enumerate(report.observations, start=1):
        segments.append(
            segment(
                "OBX",
                {
                    1: str(set_id),
                    2: observation.value_type,
                    3: f"{observation.code}^{observation.text}^LN",
                    5: observation.value,
                    6: observation.unit,
                    7: observation.reference_range,
                    8: observation.flag,
                    11: observation.status,
                    14: when,
                },
            )
        )
    if report.note:
        segments.append(f"NTE|1|L|{report.note}")
    return segments


def vaccination_segments(vaccination: Vaccination, index: int) -> list[str]:
    """PID, ORC, RXA (and an RXR with route and site when the record has one)."""
    given = vaccination.completion == "CP"
    notes = (
        "01^Historique^NIP001"
        if vaccination.historical
        else "00^Nouvelle administration^NIP001"
    )
    segments = [
        pid(vaccination.patient),
        segment("ORC", {1: "RE", 3: f"IMM{index}"}),
        segment(
            "RXA",
            {
                1: "0",
                2: "1",
                3: f"{vaccination.given:%Y%m%d}",
                5: f"{vaccination.cvx}^{vaccination.text}^CVX",
                6: "0.5" if given else "999",
                7: "mL^mL^UCUM" if given else "",
                9: notes,
                15: vaccination.lot if given else "",
                20: vaccination.completion,
                21: "A",
            },
        ),
    ]
    if given and vaccination.with_route:
        segments.append("RXR|IM^Intramusculaire^HL70162|LD^Deltoide gauche^HL70163")
    return segments
