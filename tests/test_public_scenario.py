"""The public acceptance scenario, end to end through the CLI, exactly as its README runs it.

`init` with the scenario's roster and acts, `import` of its HL7 messages folder, then `report
--format json` at the scenario's date, compared with `expected.json`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import PUBLIC_SCENARIO, cli


@pytest.fixture(scope="module")
def scenario_import(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """`init` on the scenario, then `import` of its messages (once); the folder and output."""
    folder = tmp_path_factory.mktemp("scenario")
    init = cli(
        folder,
        "init",
        "inst",
        "--roster",
        PUBLIC_SCENARIO / "roster.csv",
        "--acts",
        PUBLIC_SCENARIO / "acts.csv",
    )
    assert init.returncode == 0, init.stderr
    config = folder / "inst" / "fmt.toml"
    imported = cli(folder, "--config", config, "import", PUBLIC_SCENARIO / "messages")
    assert imported.returncode == 0, imported.stderr
    return folder, imported.stdout


@pytest.fixture(scope="module")
def scenario_report(scenario_import: tuple[Path, str]) -> dict[str, Any]:
    """`report --format json` at the scenario's date (once)."""
    folder, _ = scenario_import
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


def test_the_message_for_an_unknown_patient_is_quarantined(
    scenario_import: tuple[Path, str],
) -> None:
    """Nine messages are integrated; the one naming a stranger waits in quarantine."""
    _, output = scenario_import
    assert "intégrés        : 9" in output
    assert "en quarantaine  : 1" in output


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
