"""The public acceptance scenario, end to end through the CLI and the CSV adapter.

HL7 import is a later issue; until it lands, the scenario's HL7 messages are carried by the acts
file the way an EHR export would list them (LOINC results, CVX vaccinations), derived here from
the messages themselves so the data cannot drift from the scenario. Then `init`, `report
--format json` are run as a user would and compared with `expected.json`.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import PUBLIC_SCENARIO, cli

HL7_SYSTEMS = {"LN": "LOINC", "CVX": "CVX"}


def _fields(segment: str) -> list[str]:
    return segment.split("|")


def acts_from_message(text: str) -> list[tuple[str, str, str, str]]:
    """(patient_id, date, system, code) for each result or vaccination of one HL7 message.

    Deliberately minimal (the real parser is hl7apy's, in the HL7 issue): the practice's own
    id is the PI repetition of PID-3; OBX-14 / RXA-3 give the date, OBX-3 / RXA-5 the code.
    """
    segments = [s for s in text.replace("\n", "\r").split("\r") if s]
    patient_id = None
    rows = []
    for segment in segments:
        fields = _fields(segment)
        if fields[0] == "PID":
            for repetition in fields[3].split("~"):
                parts = repetition.split("^")
                if len(parts) > 4 and parts[4] == "PI":
                    patient_id = parts[0]
        elif fields[0] in ("OBX", "RXA") and patient_id is not None:
            when, coded = (
                (fields[14], fields[3])
                if fields[0] == "OBX"
                else (fields[3], fields[5])
            )
            code, _, system = coded.split("^")[:3]
            day = f"{when[:4]}-{when[4:6]}-{when[6:8]}"
            rows.append((patient_id, day, HL7_SYSTEMS[system], code))
    return rows


def write_scenario_acts(scenario: Path, path: Path) -> Path:
    """The scenario's acts plus its HL7 events, as one acts CSV at `path`."""
    with (scenario / "acts.csv").open(encoding="utf-8") as source:
        rows = list(csv.reader(source))
    for message in sorted((scenario / "messages").glob("*.hl7")):
        rows.extend(acts_from_message(message.read_text(encoding="utf-8")))
    with path.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out, lineterminator="\n").writerows(rows)
    return path


@pytest.fixture(scope="module")
def scenario_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`init` on the scenario, then `report --format json` at the scenario's date (once)."""
    folder = tmp_path_factory.mktemp("scenario")
    acts = write_scenario_acts(PUBLIC_SCENARIO, folder / "acts_with_hl7.csv")
    init = cli(
        folder,
        "init",
        "inst",
        "--roster",
        PUBLIC_SCENARIO / "roster.csv",
        "--acts",
        acts,
    )
    assert init.returncode == 0, init.stderr
    as_of = EXPECTED["as_of"]
    config = folder / "inst" / "fmt.toml"
    result = cli(
        folder, "--config", config, "report", "--as-of", as_of, "--format", "json"
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def _expected() -> dict[str, Any]:
    path = PUBLIC_SCENARIO / "expected.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


EXPECTED = _expected()
STATUS_CASES = [
    (patient, indicator, value)
    for patient, indicators in EXPECTED["expected"].items()
    for indicator, value in indicators.items()
]
ABSENT_CASES = [
    (patient, indicator)
    for patient, indicators in EXPECTED["absent"].items()
    for indicator in indicators
]


def test_the_hl7_events_are_all_carried(tmp_path: Path) -> None:
    """Every message but the one for an unknown patient yields its act rows."""
    scenario_acts = write_scenario_acts(PUBLIC_SCENARIO, tmp_path / "acts.csv")
    with scenario_acts.open(encoding="utf-8") as source:
        rows = list(csv.DictReader(source))
    assert len(rows) == 2 + 10  # acts.csv + 10 results and vaccinations in 9 messages


@pytest.mark.parametrize(
    ("patient", "indicator", "value"),
    STATUS_CASES,
    ids=[f"{p}-{i}" for p, i, _ in STATUS_CASES],
)
def test_public_scenario_status(
    scenario_report: dict[str, Any], patient: str, indicator: str, value: Any
) -> None:
    """The report gives the status (and due date) expected.json gives."""
    patients = {p["patient_id"]: p["indicators"] for p in scenario_report["patients"]}
    got = patients[patient][indicator]
    if isinstance(value, list):
        assert [got["status"], got["due"]] == value
    else:
        assert got["status"] == value


@pytest.mark.parametrize(
    ("patient", "indicator"), ABSENT_CASES, ids=[f"{p}-{i}" for p, i in ABSENT_CASES]
)
def test_public_scenario_absent(
    scenario_report: dict[str, Any], patient: str, indicator: str
) -> None:
    """A patient outside an indicator's population is not listed for it."""
    patients = {p["patient_id"]: p["indicators"] for p in scenario_report["patients"]}
    assert indicator not in patients[patient]


def test_public_scenario_rates_add_up(scenario_report: dict[str, Any]) -> None:
    """Each rate counts exactly the patients listed with that indicator."""
    for indicator, rate in scenario_report["rates"].items():
        statuses = [
            p["indicators"][indicator]["status"]
            for p in scenario_report["patients"]
            if indicator in p["indicators"]
        ]
        for status in ("fait", "a_verifier", "a_venir", "exclu"):
            assert rate[status] == statuses.count(status), (indicator, status)
