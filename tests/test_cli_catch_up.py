"""Closed child windows (issue 14): the report and the sheet tell a *rattrapage* apart.

Q01 of the public scenario, born 2025-12-01, has had no MenACWY dose: its window (up to
12 months inclusive) closed on its 13-month birthday, 2027-01-01.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import RunCli

AFTER = "2027-01-15"  # Q01 is 13 months old
BEFORE = "2026-12-31"  # the last day of Q01's MenACWY window


@pytest.fixture
def installation(scenario_config: Path) -> Path:
    """A fresh installation on the public scenario's CSV files (conftest's `init`)."""
    return scenario_config


def report_json(run_cli: RunCli, config: str, as_of: str) -> dict:
    result = run_cli("--config", config, "report", "--as-of", as_of, "--format", "json")
    assert result.returncode == 0, result.stderr
    data: dict = json.loads(result.stdout)
    return data


def meningo_of_q01(report: dict) -> dict:
    q01 = next(p for p in report["patients"] if p["patient_id"] == "Q01")
    status: dict = q01["indicators"]["vacc_meningo_acwy"]
    return status


def test_json_marks_a_closed_window_as_catch_up(run_cli, installation):
    """After the 13-month birthday, MenACWY is à vérifier with catch_up and the day."""
    status = meningo_of_q01(report_json(run_cli, installation, AFTER))
    assert (status["status"], status["catch_up"], status["window_closed"]) == (
        "a_verifier",
        True,
        "2027-01-01",
    )
    assert status["due"] == "2026-06-01"  # the 6-month birthday, unchanged


def test_json_open_window_is_not_catch_up(run_cli, installation):
    """On the last day of the window the status is a plain à vérifier."""
    status = meningo_of_q01(report_json(run_cli, installation, BEFORE))
    assert (status["status"], status["catch_up"], status["window_closed"]) == (
        "a_verifier",
        False,
        None,
    )


def test_catch_up_counts_in_the_taux_but_not_in_the_euros_still_possible(
    run_cli, installation
):
    """The rate counts the rattrapage as à vérifier; the missed euros leave it out."""
    report = report_json(run_cli, installation, AFTER)
    meningo = report["rates"]["vacc_meningo_acwy"]
    assert (meningo["a_verifier"], meningo["rattrapage"], meningo["taux"]) == (1, 1, 0)
    rates = report["rates"].values()
    open_ones = sum(r["a_verifier"] - r["rattrapage"] for r in rates)
    assert report["potentiel_fmt"]["a_verifier"] == open_ones
    assert report["potentiel_fmt"]["manque_eur"] == 5 * open_ones


def test_table_shows_a_verifier_rattrapage(run_cli, installation):
    """The table's status cell reads « À vérifier (rattrapage) »."""
    result = run_cli(
        "--config",
        installation,
        "report",
        "--as-of",
        AFTER,
        "--indicator",
        "vacc_meningo_acwy",
    )
    assert result.returncode == 0, result.stderr
    assert "À vérifier (rattrapage)" in result.stdout
    assert "dont 1 à vérifier en rattrapage" in result.stdout


def test_sheet_says_when_the_window_closed_and_that_it_no_longer_counts(
    run_cli, installation
):
    """The patient sheet gives the closing day and says the act no longer counts."""
    result = run_cli("--config", installation, "patient", "Q01", "--as-of", AFTER)
    assert result.returncode == 0, result.stderr
    assert "Vaccination méningocoque ACWY : À vérifier (rattrapage)" in result.stdout
    assert (
        "Fenêtre d'âge fermée le 01/01/2027 : rattrapage, "
        "l'acte ne compte plus pour le FMT"
    ) in result.stdout
