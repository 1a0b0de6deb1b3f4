"""`init --roster` is all or nothing: a bad file leaves nothing behind, and the same command then works."""

from __future__ import annotations

from pathlib import Path

import pytest

from fmt_plugin.installation import open_installation

HEADER = "patient_id;ins;nom;prenom;date_naissance;sexe;ald;conditions;flags;opposition"
HEADER += ";mssante;email;telephone"
GOOD_LINES = [
    "Q01;125120905620191;AUGUSTE;CHRISTIAN;01/12/2025;M;;;;0;;;",
    "Q02;114010905620265;DESCOMBES;FRANÇOIS;20/01/2014;M;;;;0;;;",
]


def write_roster(
    path: Path, header: str = HEADER, lines: list[str] = GOOD_LINES
) -> Path:
    """A French Excel roster (cp1252, `;`, CRLF) at `path`."""
    path.write_bytes("\r\n".join([header, *lines]).encode("cp1252") + b"\r\n")
    return path


def test_a_roster_missing_a_column_creates_nothing(run_cli, tmp_path):
    """The header lacks `sexe`: exit 1 naming file and column, and no folder is made."""
    roster = write_roster(tmp_path / "patients.csv", HEADER.replace(";sexe", ""))
    result = run_cli("init", "inst", "--roster", roster)
    assert result.returncode == 1
    assert f"{roster}, ligne 1, colonne « sexe »" in result.stderr
    assert "Installation non créée" in result.stderr
    assert not (tmp_path / "inst").exists()


def test_the_same_init_works_once_the_roster_is_fixed(run_cli, tmp_path):
    """After a refused roster is fixed, the very same command creates the installation."""
    roster = write_roster(tmp_path / "patients.csv", HEADER.replace(";sexe", ""))
    assert run_cli("init", "inst", "--roster", roster).returncode == 1
    write_roster(roster)
    result = run_cli("init", "inst", "--roster", roster)
    assert result.returncode == 0, result.stderr
    assert "2 ajoutés" in result.stdout
    with open_installation(tmp_path / "inst" / "fmt.toml") as installation:
        assert installation.store.patient_ids() == ["Q01", "Q02"]
        assert installation.store.get_patient("Q02").prenom == "FRANÇOIS"


def test_a_bad_acts_file_creates_nothing(run_cli, tmp_path):
    """An acts file without its `code` column stops init before anything is written."""
    roster = write_roster(tmp_path / "patients.csv")
    acts = tmp_path / "actes.csv"
    acts.write_text("patient_id;date;system\r\nQ01;09/12/2025;NGAP\r\n", "cp1252")
    result = run_cli("init", "inst", "--roster", roster, "--acts", acts)
    assert result.returncode == 1
    assert f"{acts}, ligne 1, colonne « code »" in result.stderr
    assert not (tmp_path / "inst").exists()
    acts.write_text(
        "patient_id;date;system;code\r\nQ01;09/12/2025;NGAP;COE\r\n", "cp1252"
    )
    assert run_cli("init", "inst", "--roster", roster, "--acts", acts).returncode == 0


def test_a_roster_whose_every_line_is_bad_is_undone(run_cli, tmp_path):
    """Read but with no usable patient (every date JJ/MM/AA): the made folder is removed."""
    lines = [
        line.replace("/2025;", "/25;").replace("/2014;", "/14;") for line in GOOD_LINES
    ]
    roster = write_roster(tmp_path / "patients.csv", lines=lines)
    result = run_cli("init", "inst", "--roster", roster)
    assert result.returncode == 1
    assert "aucun patient utilisable" in result.stderr
    assert f"{roster}, ligne 3, colonne « date_naissance »" in result.stderr
    assert not (tmp_path / "inst").exists()
    write_roster(roster)
    assert run_cli("init", "inst", "--roster", roster).returncode == 0


def test_an_existing_folder_keeps_only_what_was_there(run_cli, tmp_path):
    """Undoing init in a folder the user made removes its own files, not the user's."""
    folder = tmp_path / "inst"
    folder.mkdir()
    (folder / "notes.txt").write_text("à garder", encoding="utf-8")
    lines = [line.replace(";M;", ";X;") for line in GOOD_LINES]
    roster = write_roster(tmp_path / "patients.csv", lines=lines)
    assert run_cli("init", folder, "--roster", roster).returncode == 1
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    assert (folder / "notes.txt").read_text(encoding="utf-8") == "à garder"


def test_nested_folders_made_for_the_installation_are_removed(run_cli, tmp_path):
    """`init a/b/c` with a bad roster removes `a`, which it created."""
    roster = tmp_path / "patients.xlsx"
    roster.write_bytes(b"PK\x03\x04\x14\x00\x06\x00")
    result = run_cli("init", tmp_path / "a" / "b" / "c", "--roster", roster)
    assert result.returncode == 1
    assert "xlsx" in result.stderr
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize("encoding", ["cp1252", "utf-8-sig"])
def test_init_reads_a_french_excel_roster(run_cli, tmp_path, encoding):
    """A `;` roster with JJ/MM/AAAA dates, in cp1252 or UTF-8 with a BOM, is loaded."""
    roster = tmp_path / "patients.csv"
    roster.write_bytes("\r\n".join([HEADER, *GOOD_LINES]).encode(encoding))
    result = run_cli("init", "inst", "--roster", roster)
    assert result.returncode == 0, result.stderr
    with open_installation(tmp_path / "inst" / "fmt.toml") as installation:
        assert [p.prenom for p in installation.store.iter_patients()] == [
            "CHRISTIAN",
            "FRANÇOIS",
        ]
