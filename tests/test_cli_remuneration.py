"""`fmt-plugin remuneration`: the FMT remuneration estimate, run as a user runs it on a real
installation of the public scenario."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from conftest import RunCli

AS_OF = "2026-03-15"


@pytest.fixture
def config(scenario_config: Path) -> Path:
    """A fresh installation on the public scenario's CSV files (conftest's `init`)."""
    return scenario_config


def set_practice(tmp_path: Path, config: str, lines: str) -> None:
    """Put `lines` in the `[practice]` table of fmt.toml, instead of its `zone` comment."""
    path = tmp_path / config
    text = path.read_text(encoding="utf-8")
    assert '# zone = "aucune"\n' in text
    path.write_text(text.replace('# zone = "aucune"\n', f"{lines}\n", 1), "utf-8")


def remuneration_json(run_cli: RunCli, config: str, *extra: str) -> dict:
    result = run_cli(
        "--config", config, "remuneration", "--as-of", AS_OF, "--format", "json", *extra
    )
    assert result.returncode == 0, result.stderr
    data: dict = json.loads(result.stdout)
    return data


def test_public_scenario_socle_2026_is_100_euros(run_cli, config):
    """The public scenario's forfait socle of 2026, computed by hand, is 100 €.

    Ages at 31/12/2025 (the situation that decides 2026), no patient with the C2S:
      Q01 born 01/12/2025, 0 years          → under 7         15 €
      Q02 born 20/01/2014, 11 years         → 7–74             5 €
      Q03 born 02/05/1989, 36 years         → 7–74             5 €
      Q04 born 30/11/1997, 28 years         → 7–74             5 €
      Q05 born 14/02/1971, 54 years         → 7–74             5 €
      Q06 born 08/08/1948, 77 years, ALD 8  → ALD under 80    55 €
      Q07 born 15/03/1963, 62 years         → 7–74             5 €
      Q08 born 09/09/1980, 45 years         → 7–74             5 €
    15 + 6 × 5 + 55 = 100 €, paid 25 € in April, June, September and November 2026.
    """
    estimate = remuneration_json(run_cli, config)
    socle_payments = [p for p in estimate["payments"] if p["component"] == "socle"]
    assert estimate["socle"]["earned_eur"] == 15 + 6 * 5 + 55
    assert [(p["from"], p["amount_eur"]) for p in socle_payments] == [
        ("2026-04-01", 25),
        ("2026-06-01", 25),
        ("2026-09-01", 25),
        ("2026-11-01", 25),
    ]


def test_patients_detail_gives_age_ald_c2s_band_and_amount(run_cli, config):
    """`--patients` lists each patient by id with their situation at 31/12/N-1."""
    estimate = remuneration_json(run_cli, config, "--patients")
    q06 = next(p for p in estimate["patients"] if p["patient_id"] == "Q06")
    assert q06 == {
        "patient_id": "Q06",
        "age": 77,
        "ald": True,
        "c2s": False,
        "band": "ald_moins_80_ans",
        "amount_eur": 55,
    }


def test_prevention_is_the_reports_potentiel_fmt(run_cli, config):
    """The majoration prévention earned and possible are the report's potentiel FMT."""
    report = run_cli("--config", config, "report", "--as-of", AS_OF, "--format", "json")
    potential = json.loads(report.stdout)["potentiel_fmt"]
    prevention = remuneration_json(run_cli, config)["prevention"]
    assert (prevention["earned_eur"], prevention["possible_eur"]) == (
        potential["acquis_eur"],
        potential["manque_eur"],
    )


def test_prevention_is_paid_in_the_first_half_of_the_next_year(run_cli, config):
    """The prévention of 2026 is paid from January to June 2027."""
    payment = remuneration_json(run_cli, config)["payments"][-1]
    assert (payment["component"], payment["from"], payment["to"]) == (
        "prevention",
        "2027-01-01",
        "2027-06-30",
    )


def test_zone_of_the_practice_adds_ten_percent_to_the_socle(run_cli, config, tmp_path):
    """`[practice] zone = "zip"`: +10 % of 100 €, 10 €."""
    set_practice(tmp_path, config, 'zone = "zip"')
    majoration = remuneration_json(run_cli, config)["socle_majoration"]
    assert (majoration["id"], majoration["earned_eur"]) == ("zone", 10)


def test_majorations_are_not_added_together(run_cli, config, tmp_path):
    """Primo-installed in QPV the year before and aged 67: +50 % alone, 50 €."""
    set_practice(
        tmp_path,
        config,
        'zone = "qpv"\nprimo_installation_date = 2025-06-01\n'
        "doctor_birth_date = 1950-01-01",
    )
    majoration = remuneration_json(run_cli, config)["socle_majoration"]
    assert (majoration["id"], majoration["earned_eur"]) == ("primo_installation_1", 50)


def test_past_year_counts_the_indicators_on_its_last_day(run_cli, config):
    """`--year 2026 --as-of 2027-02-01`: the statuses are those of 31/12/2026."""
    result = run_cli(
        "--config",
        config,
        "remuneration",
        "--year",
        "2026",
        "--as-of",
        "2027-02-01",
        "--format",
        "json",
    )
    assert json.loads(result.stdout)["evaluated_on"] == "2026-12-31"


def test_future_year_is_a_usage_error_naming_the_option(run_cli, config):
    """`--year 2027` on 15/03/2026 exits 2 with a French message naming --year."""
    result = run_cli(
        "--config", config, "remuneration", "--year", "2027", "--as-of", AS_OF
    )
    assert result.returncode == 2
    assert "--year" in result.stderr
    assert "postérieure" in result.stderr


def test_bad_zone_in_the_configuration_names_file_and_key(run_cli, config, tmp_path):
    """`zone = "zrr"` exits 2 naming fmt.toml and practice.zone."""
    set_practice(tmp_path, config, 'zone = "zrr"')
    result = run_cli("--config", config, "remuneration", "--as-of", AS_OF)
    assert result.returncode == 2
    assert "fmt.toml" in result.stderr
    assert "practice.zone" in result.stderr


def test_table_speaks_french_amounts_and_months(run_cli, config):
    """The table shows `100 €`, the months of payment and the situation's date."""
    result = run_cli("--config", config, "remuneration", "--as-of", AS_OF)
    assert result.returncode == 0, result.stderr
    assert "Forfait socle          100\u202f€" in result.stdout
    assert "avril, juin, septembre et novembre 2026" in result.stdout
    assert "situation au 31/12/2025" in result.stdout


def test_table_with_patients_shows_ids_never_names(run_cli, config):
    """`--patients` lists Q01…Q08 by id; no name of the roster appears."""
    result = run_cli("--config", config, "remuneration", "--as-of", AS_OF, "--patients")
    assert "Q06" in result.stdout
    assert "AUGUSTE" not in result.stdout.upper()


def test_csv_is_for_french_excel(run_cli, config):
    """`--format csv`: UTF-8 BOM, `;`, French headers, one row per component."""
    result = run_cli(
        "--config", config, "remuneration", "--as-of", AS_OF, "--format", "csv"
    )
    assert result.stdout.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(result.stdout[1:]), delimiter=";"))
    assert rows[0] == ["Composante", "Acquis (€)", "Possible en plus (€)", "Versement"]
    assert rows[1][:2] == ["Forfait socle", "100,00"]


def test_csv_with_patients_has_one_row_per_patient(run_cli, config):
    """`--format csv --patients`: a header, then the 8 patients of the scenario."""
    result = run_cli(
        "--config",
        config,
        "remuneration",
        "--as-of",
        AS_OF,
        "--format",
        "csv",
        "--patients",
    )
    rows = list(csv.reader(io.StringIO(result.stdout[1:]), delimiter=";"))
    assert rows[0][:3] == ["Patient", "Âge au 31/12/2025", "ALD"]
    assert [row[0] for row in rows[1:]] == [f"Q0{i}" for i in range(1, 9)]


def test_format_accepts_the_french_word(run_cli, config):
    """`--format tableau` is the table."""
    result = run_cli(
        "--config", config, "remuneration", "--as-of", AS_OF, "--format", "tableau"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Rémunération FMT 2026")
