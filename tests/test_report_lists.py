"""`report` as the practice reads it: amelipro's lists in the terminal, French CSV and xlsx."""

from __future__ import annotations

import csv
import io
import stat
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from conftest import RunCli

from fmt_plugin.views.practice_report import FILE_COLUMNS

AS_OF = "2026-03-15"


@pytest.fixture
def config(scenario_config: Path) -> Path:
    """A fresh installation on the public scenario's CSV files (conftest's `init`)."""
    return scenario_config


def report(run_cli: RunCli, config: str, *extra: str, columns: str = "") -> str:
    env = {"COLUMNS": columns} if columns else None
    result = run_cli("--config", config, "report", "--as-of", AS_OF, *extra, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def table_lines(output: str) -> list[str]:
    """The table's header, rule and rows (between the count line and the taux)."""
    return output.split("\n\n")[1].splitlines()


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";"))


# --- table ------------------------------------------------------------------------------------


def test_table_has_one_line_per_patient_and_indicator_with_due_and_last_act(
    run_cli, config
):
    """Patient id, short French label, status, due date and last act date, JJ/MM/AAAA."""
    lines = table_lines(report(run_cli, config))
    assert lines[0].split() == [
        "Patient", "Nom", "Prénom", "Âge", "Indicateur", "Statut", "Échéance",
        "Dernier", "acte",
    ]  # fmt: skip
    sein = next(line for line in lines if "Cancer du sein" in line and "Fait" in line)
    assert sein.split()[-3:] == ["Fait", "01/02/2027", "01/02/2025"]


def test_table_names_the_patient_on_their_first_line_only(run_cli, config):
    """CHEVALIER has five indicators: her id and name once, then the indicators alone."""
    lines = table_lines(report(run_cli, config))
    start = next(i for i, line in enumerate(lines) if line.startswith("Q07 "))
    assert "CHEVALIER" in lines[start]
    following = lines[start + 1 : start + 5]
    assert all(line.startswith(" ") and "CHEVALIER" not in line for line in following)


def test_table_leaves_out_patients_with_nothing_applicable(run_cli, config):
    """Q03 (a man of 36 without risk factors) is in no population: no blank row for him."""
    output = report(run_cli, config)
    assert "Q03" not in output
    assert "DUMONT" not in output
    assert output.splitlines()[1] == "7 patients"


def test_statut_filter_keeps_only_indicators_in_that_status(run_cli, config):
    """`--statut fait` lists CHEVALIER's breast screening and nothing else."""
    lines = table_lines(report(run_cli, config, "--statut", "fait"))
    assert len(lines) == 3
    assert lines[2].startswith("Q07 ")
    assert "Cancer du sein" in lines[2]


@pytest.mark.parametrize(
    "spelling", ["à vérifier", "A_VERIFIER", "a-verifier", "to_check"]
)
def test_statut_filter_accepts_french_words_with_or_without_accents_and_english(
    run_cli, config, spelling
):
    """The assistant types the status as she says it; the English value works too."""
    output = report(run_cli, config, "--statut", spelling)
    statuses = {line.split("  ")[-3].strip() for line in table_lines(output)[2:]}
    assert "Fait" not in output.split("\n\n")[1]
    assert "À venir" not in output.split("\n\n")[1]
    assert statuses


def test_statut_filter_can_be_repeated(run_cli, config):
    """`--statut fait --statut a_venir`: both kinds listed, the à vérifier ones not."""
    body = report(run_cli, config, "--statut", "fait", "--statut", "a_venir").split(
        "\n\n"
    )[1]
    assert "Fait" in body
    assert "À venir" in body
    assert "À vérifier" not in body


def test_statut_filter_does_not_change_the_taux(run_cli, config):
    """The taux describe the practice, not the filtered list, and the report says so."""
    output = report(run_cli, config, "--statut", "fait")
    assert "Dépistage cancer du sein : 1/2 (50,0 %)" in output
    assert "quel que soit le filtre de statut" in output


def test_unknown_statut_is_refused_in_french_with_the_choices(run_cli, config):
    """A typo is a usage error listing the accepted words."""
    result = run_cli("--config", config, "report", "--statut", "termine")
    assert result.returncode == 2
    assert "choix invalide « termine »" in result.stderr
    assert "fait, a_verifier, a_venir, exclu" in result.stderr


def test_indicator_list_has_amelipro_columns(run_cli, config):
    """With --indicator: Nom, Prénom, Âge, NIR, Statut, Échéance, Dernier acte (and the id)."""
    lines = table_lines(report(run_cli, config, "--indicator", "dep_sein"))
    assert lines[0].split() == [
        "Patient", "Nom", "Prénom", "Âge", "NIR", "Statut", "Échéance", "Dernier", "acte",
    ]  # fmt: skip
    chevalier = next(line for line in lines if line.startswith("Q07 "))
    assert "2 63 03 09 056 207 66" in chevalier
    assert chevalier.split()[-3:] == ["Fait", "01/02/2027", "01/02/2025"]


def test_indicator_list_is_titled_with_the_indicator_full_label(run_cli, config):
    """The title says which list this is, in the pack's full French label."""
    output = report(run_cli, config, "--indicator", "dep_sein")
    assert output.splitlines()[0].endswith("— Dépistage cancer du sein")


def test_table_fits_the_terminal_width_by_shortening_names(run_cli, config):
    """At 100 columns no line is wider; long labels end with … but dates stay whole."""
    output = report(run_cli, config, columns="100")
    lines = table_lines(output)
    assert max(len(line) for line in lines) <= 100
    assert any("…" in line for line in lines)
    assert (
        "15/03/1988" in output
    )  # CHEVALIER's cervical screening, due since her 25th year


def test_table_is_not_cut_when_written_to_a_pipe(run_cli, config):
    """No terminal and no COLUMNS: a file keeps every character."""
    output = report(run_cli, config)
    assert "…" not in output
    assert "Maladie rénale chronique" in output


def test_indicator_list_keeps_names_whole_when_the_screen_is_hopelessly_narrow(
    run_cli, config
):
    """At 40 columns even cut names would wrap: better whole names than cut ones."""
    output = report(run_cli, config, "--indicator", "dep_sein", columns="40")
    assert "ROLLAND" in output
    assert "…" not in output


def test_taux_and_euros_are_written_the_french_way(run_cli, config):
    """50,0 % with a decimal comma, amounts in euros with the € after the number."""
    output = report(run_cli, config)
    assert "Dépistage cancer du sein : 1/2 (50,0 %)" in output
    assert "Potentiel FMT : 5\u202f€ acquis (1 indicateur fait)" in output


# --- CSV --------------------------------------------------------------------------------------


def test_csv_opens_in_french_excel(run_cli, config, tmp_path):
    """UTF-8 with a BOM, `;` between cells, CRLF line ends, French headers."""
    output = run_cli(
        "--config", config, "report", "--as-of", AS_OF, "--format", "csv", "--output",
        "r.csv",
    )  # fmt: skip
    assert output.returncode == 0, output.stderr
    data = (tmp_path / "r.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    first_line = data.split(b"\r\n")[0].decode("utf-8-sig")
    assert first_line == ";".join(FILE_COLUMNS)


def test_csv_has_patient_id_and_nir_grouped_so_excel_keeps_it_as_text(run_cli, config):
    """The NIR as on the carte Vitale: a bare 15-digit number would lose its last digits."""
    rows = csv_rows(report(run_cli, config, "--format", "csv"))
    chevalier = next(r for r in rows if r["Identifiant patient"] == "Q07")
    assert chevalier["NIR"] == "2 63 03 09 056 207 66"
    assert chevalier["Nom"] == "CHEVALIER"


def test_csv_writes_french_labels_and_dates(run_cli, config):
    """Indicator and status in French, dates JJ/MM/AAAA, refusal as oui/non."""
    rows = csv_rows(report(run_cli, config, "--format", "csv"))
    row = next(
        r
        for r in rows
        if r["Identifiant patient"] == "Q07" and r["Code indicateur"] == "dep_sein"
    )
    assert row["Indicateur"] == "Dépistage cancer du sein"
    assert row["Statut"] == "Fait"
    assert row["Date de naissance"].count("/") == 2
    assert row["Refus"] == "non"


def test_csv_follows_the_statut_filter(run_cli, config):
    """The file an assistant works from holds only what she asked for."""
    rows = csv_rows(report(run_cli, config, "--format", "csv", "--statut", "a_venir"))
    assert rows
    assert {r["Statut"] for r in rows} == {"À venir"}


def test_report_file_is_readable_by_its_owner_only(run_cli, config, tmp_path):
    """The file holds names and NIR: mode 0600, and the terminal says where it went."""
    result = run_cli(
        "--config", config, "report", "--format", "csv", "--sortie", "liste.csv"
    )
    assert result.returncode == 0, result.stderr
    assert "Rapport écrit dans liste.csv" in result.stderr
    assert result.stdout == ""
    mode = stat.S_IMODE((tmp_path / "liste.csv").stat().st_mode)
    assert mode == 0o600


def test_report_into_a_missing_folder_that_cannot_be_made_is_a_clear_error(
    run_cli, config, tmp_path
):
    """Writing under a regular file names the file and the option, exit 2."""
    (tmp_path / "plain").write_text("x")
    result = run_cli(
        "--config", config, "report", "--format", "csv", "--output", "plain/r.csv"
    )
    assert result.returncode == 2
    assert "plain/r.csv" in result.stderr
    assert "--output" in result.stderr


# --- xlsx -------------------------------------------------------------------------------------


def test_xlsx_needs_an_output_file(run_cli, config):
    """A workbook is not printed on a terminal: exit 2 and the option to use."""
    result = run_cli("--config", config, "report", "--format", "xlsx")
    assert result.returncode == 2
    assert "--output" in result.stderr


def test_xlsx_has_typed_dates_and_the_french_columns(run_cli, config, tmp_path):
    """Dates are real dates shown JJ/MM/AAAA, ages numbers, the header frozen and filterable."""
    result = run_cli(
        "--config", config, "report", "--as-of", AS_OF, "--format", "excel",
        "--output", "rapport.xlsx",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    workbook = openpyxl.load_workbook(tmp_path / "rapport.xlsx")
    sheet = workbook["Indicateurs"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == FILE_COLUMNS
    column = {name: index for index, name in enumerate(FILE_COLUMNS)}
    sein = next(
        r
        for r in rows[1:]
        if r[0] == "Q07" and r[column["Code indicateur"]] == "dep_sein"
    )
    assert sein[column["Échéance"]] == datetime(2027, 2, 1)  # noqa: DTZ001 (Excel: naive)
    assert sein[column["Âge"]] == 63
    due_cell = sheet.cell(row=rows.index(sein) + 1, column=column["Échéance"] + 1)
    assert due_cell.number_format == "DD/MM/YYYY"
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref


def test_xlsx_has_a_sheet_of_taux(run_cli, config, tmp_path):
    """The "Taux" sheet: numerator, denominator and the taux as a percentage cell."""
    result = run_cli(
        "--config", config, "report", "--as-of", AS_OF, "--format", "xlsx",
        "--output", "rapport.xlsx",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = list(
        openpyxl.load_workbook(tmp_path / "rapport.xlsx")["Taux"].iter_rows(
            values_only=True
        )
    )
    sein = next(r for r in rows if r and r[1] == "dep_sein")
    assert sein[2:5] == (1, 2, 0.5)
