"""`fmt-plugin patient QUERY`: find a patient by id, NIR, birth date or name, then the sheet."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import RunCli
from terminal import run_at_terminal

AS_OF = "2026-03-15"

#: A roster with namesakes, accents, a Corsican NIR, a diabetic patient and one to retire.
ROSTER = """\
patient_id,ins,nom,prenom,date_naissance,sexe,ald,conditions,flags,opposition,mssante,email,telephone
P01,150032A01234516,DUPONT,Jean,1950-03-02,M,,,,0,,,
P02,255077512345670,DUPONT,Marie,1955-07-14,F,,,,0,,,
P03,262057512345683,LEFÈVRE,Hélène,1962-05-20,F,8,E11.9,,0,,,
P04,148080905620659,DUPUIS,Jean-Pierre,1948-08-08,M,,,,0,,,
P05,170017512345665,MARTIN,Paul,1970-01-01,M,,,,0,,,
"""


@pytest.fixture
def config(run_cli: RunCli, tmp_path: Path) -> str:
    """An installation on ROSTER where P05 has since left the roster (retired by sync)."""
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    result = run_cli("init", "inst", "--roster", roster)
    assert result.returncode == 0, result.stderr
    roster.write_text(
        "".join(line for line in ROSTER.splitlines(True) if "P05" not in line),
        encoding="utf-8",
    )
    synced = run_cli("--config", "inst/fmt.toml", "sync", "--allow-retire")
    assert synced.returncode == 0, synced.stderr
    return "inst/fmt.toml"


def sheet_of(run_cli: RunCli, config: str, query: str) -> str:
    """The sheet `patient QUERY` prints; the search must have found one patient."""
    result = run_cli("--config", config, "patient", query, "--as-of", AS_OF)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Suivi prévention — "), result.stdout
    return result.stdout.splitlines()[0]


# --- one patient found --------------------------------------------------------------------


def test_the_internal_id_shows_that_patient(run_cli, config):
    """`patient P03` shows Hélène LEFÈVRE's sheet."""
    assert "LEFÈVRE Hélène (P03)" in sheet_of(run_cli, config, "P03")


def test_an_ins_typed_as_on_the_carte_vitale_shows_its_patient(run_cli, config):
    """`patient "1 48 08 09 056 206 59"` shows Jean-Pierre DUPUIS."""
    assert "(P04)" in sheet_of(run_cli, config, "1 48 08 09 056 206 59")


def test_an_ins_without_spaces_shows_its_patient(run_cli, config):
    """`patient 148080905620659` shows Jean-Pierre DUPUIS."""
    assert "(P04)" in sheet_of(run_cli, config, "148080905620659")


def test_a_13_character_nir_shows_its_patient(run_cli, config):
    """The NIR without its key, Corsican department included, finds Jean DUPONT."""
    assert "(P01)" in sheet_of(run_cli, config, "1 50 03 2A 012 345")


def test_a_french_birth_date_shows_the_patient_born_that_day(run_cli, config):
    """`patient 20/05/1962` shows Hélène LEFÈVRE."""
    assert "(P03)" in sheet_of(run_cli, config, "20/05/1962")


def test_an_iso_birth_date_shows_the_patient_born_that_day(run_cli, config):
    """`patient 1962-05-20` shows Hélène LEFÈVRE."""
    assert "(P03)" in sheet_of(run_cli, config, "1962-05-20")


def test_a_name_without_accents_in_capitals_shows_its_patient(run_cli, config):
    """`patient "HELENE LEF"` shows Hélène LEFÈVRE."""
    assert "(P03)" in sheet_of(run_cli, config, "HELENE LEF")


def test_first_name_and_name_in_either_order_show_the_patient(run_cli, config):
    """`"Jean Dupont"` and `"dupont jean"` both show P01, not Marie nor Jean-Pierre."""
    assert "(P01)" in sheet_of(run_cli, config, "Jean Dupont")
    assert "(P01)" in sheet_of(run_cli, config, "dupont jean")


# --- retired patients ---------------------------------------------------------------------


def test_a_retired_patient_found_by_id_is_shown_as_retired(run_cli, config):
    """`patient P05` shows the sheet with the line saying Paul MARTIN left the roster."""
    result = run_cli("--config", config, "patient", "P05", "--as-of", AS_OF)
    assert result.returncode == 0, result.stderr
    assert "(P05)" in result.stdout
    assert "Patient sorti de la patientèle" in result.stdout


def test_a_retired_patient_found_by_nir_is_shown_as_retired(run_cli, config):
    """Paul MARTIN's NIR still finds him, marked as having left the roster."""
    result = run_cli(
        "--config", config, "patient", "1 70 01 75 123 456", "--as-of", AS_OF
    )
    assert result.returncode == 0, result.stderr
    assert "Patient sorti de la patientèle" in result.stdout


def test_a_retired_patient_is_not_found_by_name(run_cli, config):
    """`patient martin` finds nobody: names search the current roster only."""
    result = run_cli("--config", config, "patient", "martin")
    assert result.returncode == 2
    assert "aucun patient actif" in result.stderr


# --- several or none ----------------------------------------------------------------------


def test_several_matches_without_a_terminal_list_them_and_exit_2(run_cli, config):
    """`patient dup` (a script, no terminal) lists the three patients and says how to pick."""
    result = run_cli("--config", config, "patient", "dup")
    assert result.returncode == 2
    lines = result.stdout.splitlines()
    assert lines[0] == "3 patients correspondent :"
    assert lines[2].split() == [
        "n°",
        "Identifiant",
        "Nom",
        "Prénom",
        "Né(e)",
        "le",
        "NIR",
    ]
    assert lines[4].split()[:5] == ["1", "P01", "DUPONT", "Jean", "02/03/1950"]
    assert "1 50 03 2A 012 345 16" in lines[4]
    assert lines[5].split()[:3] == ["2", "P02", "DUPONT"]
    assert lines[6].split()[:3] == ["3", "P04", "DUPUIS"]
    assert "fmt-plugin patient IDENTIFIANT" in result.stderr


def test_no_match_is_a_usage_error_that_does_not_repeat_the_query(run_cli, config):
    """`patient Durand` stops with exit 2, in French, without writing the name back."""
    result = run_cli("--config", config, "patient", "Durand")
    assert result.returncode == 2
    assert "fmt-plugin : erreur : aucun patient actif" in result.stderr
    assert "Durand" not in result.stderr
    assert "Traceback" not in result.stderr


def test_the_query_is_not_written_to_the_log(run_cli, config, tmp_path):
    """The log file says how the search was read and who was shown, never the name typed."""
    sheet_of(run_cli, config, "HELENE LEF")
    log = (tmp_path / "inst" / "fmt.log").read_text(encoding="utf-8")
    assert "patient sheet shown for P03" in log
    assert "helene" not in log.casefold()
    assert "hélène" not in log.casefold()
    assert "lef" not in log.casefold()


# --- at a terminal ------------------------------------------------------------------------


def at_terminal(cwd: Path, *args: str, answers: list[str]) -> tuple[int, str]:
    """Run the CLI at a pseudo-terminal, answering each choice prompt in turn."""
    return run_at_terminal(cwd, *args, answers=answers, prompt=b"annuler) : ")


def test_at_a_terminal_the_number_typed_shows_that_patient(tmp_path, config):
    """At a terminal, `patient dupont` asks for the number; 2 shows Marie DUPONT."""
    status, screen = at_terminal(
        tmp_path,
        "--config",
        config,
        "patient",
        "dupont",
        "--as-of",
        AS_OF,
        answers=["2"],
    )
    assert status == 0, screen
    assert "Numéro du patient à afficher (Entrée : annuler) :" in screen
    assert "Suivi prévention — DUPONT Marie (P02)" in screen


def test_at_a_terminal_enter_alone_cancels(tmp_path, config):
    """Entrée at the prompt shows no sheet and ends normally."""
    status, screen = at_terminal(
        tmp_path, "--config", config, "patient", "dupont", answers=[""]
    )
    assert status == 0, screen
    assert "Aucun patient affiché." in screen
    assert "Suivi prévention" not in screen


def test_at_a_terminal_a_wrong_number_is_asked_again(tmp_path, config):
    """`7` among two patients is refused and asked again; then 1 shows Jean DUPONT."""
    status, screen = at_terminal(
        tmp_path, "--config", config, "patient", "dupont", "--as-of", AS_OF,
        answers=["7", "1"],
    )  # fmt: skip
    assert status == 0, screen
    assert "Numéro invalide : de 1 à 2, ou Entrée pour annuler." in screen
    assert screen.count("Numéro du patient à afficher") == 2
    assert "Suivi prévention — DUPONT Jean (P01)" in screen
