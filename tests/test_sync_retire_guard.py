"""`sync` never retires a large part of the patientèle by mistake, nor reads an unreadable export."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from fmt_plugin.installation import open_installation
from fmt_plugin.roster import too_many_departures

HEADER = "patient_id;INS;Nom;Prénom;Date naissance;Sexe;ALD;Conditions;Flags;Opposition"
HEADER += ";MSSanté;E-mail;Téléphone"


def roster(path: Path, count: int, *, without: tuple[int, ...] = ()) -> Path:
    """A French Excel roster (cp1252, `;`, CRLF) of patients P001…P`count` but `without`."""
    lines = [HEADER] + [
        f"P{n:03d};;DÉSIRÉ{n};JOSÉ;{1 + n % 28:02d}/03/1970;H;;;;0;;;"
        for n in range(1, count + 1)
        if n not in without
    ]
    path.write_bytes("\r\n".join(lines).encode("cp1252") + b"\r\n")
    return path


@pytest.fixture
def practice(run_cli, tmp_path: Path) -> tuple[Path, Path]:
    """An installation made by `init --roster` on 20 patients: (fmt.toml, roster file)."""
    export = roster(tmp_path / "patients.csv", 20)
    result = run_cli("init", "inst", "--roster", export)
    assert result.returncode == 0, result.stderr
    return tmp_path / "inst" / "fmt.toml", export


def active_ids(config: Path) -> list[str]:
    """The active patients, through the store."""
    with open_installation(config) as installation:
        return installation.store.patient_ids()


def audit_entries(config: Path) -> int:
    """How many entries the audit log holds."""
    with closing(sqlite3.connect(config.parent / "fmt.sqlite3")) as db:
        return int(db.execute("select count(*) from audit_log").fetchone()[0])


def test_a_sync_retiring_more_than_10_percent_stops_and_changes_nothing(
    run_cli, practice
):
    """3 of 20 patients missing (15 %): exit 1, every patient still active, no audit entry."""
    config, export = practice
    before = audit_entries(config)
    roster(export, 20, without=(4, 9, 17))
    result = run_cli("--config", config, "sync")
    assert result.returncode == 1
    assert "3 des 20 patients actifs (15,0 %) seraient retirés" in result.stderr
    assert "rien n'a été modifié" in result.stderr
    assert "--allow-retire" in result.stderr
    assert len(active_ids(config)) == 20
    assert audit_entries(config) == before


def test_allow_retire_retires_them_and_keeps_them(run_cli, practice):
    """With --allow-retire the 3 are retired, not deleted, and the override is audited."""
    config, export = practice
    roster(export, 20, without=(4, 9, 17))
    result = run_cli("--config", config, "sync", "--allow-retire")
    assert result.returncode == 0, result.stderr
    assert "3 retirés" in result.stdout
    assert "P004, P009, P017" in result.stdout
    assert len(active_ids(config)) == 17
    with open_installation(config) as installation:
        assert installation.store.get_patient("P009") is not None
        assert len(installation.store.patient_ids(active_only=False)) == 20
    with closing(sqlite3.connect(config.parent / "fmt.sqlite3")) as db:
        (detail,) = db.execute(
            "select detail from audit_log where action = 'roster.allow_retire'"
        ).fetchone()
    assert detail == "retired=3 active=20 max_percent=10"


def test_a_small_shrink_under_the_limit_goes_through(run_cli, practice):
    """2 of 20 missing (10 %, the limit itself): retired, named, exit 0."""
    config, export = practice
    roster(export, 20, without=(5, 6))
    result = run_cli("--config", config, "sync")
    assert result.returncode == 0, result.stderr
    assert "2 retirés" in result.stdout
    assert "retirés (absents de l'export, gardés dans la base) : P005, P006" in (
        result.stdout
    )
    assert "P005" not in active_ids(config)


def test_a_retired_patient_back_in_the_export_is_active_again(run_cli, practice):
    """A patient retired by a small shrink comes back with the next full export."""
    config, export = practice
    roster(export, 20, without=(5,))
    assert run_cli("--config", config, "sync").returncode == 0
    roster(export, 20)
    result = run_cli("--config", config, "sync")
    assert "1 modifiés" in result.stdout
    assert len(active_ids(config)) == 20


def test_the_limit_is_read_from_the_configuration(run_cli, practice):
    """`[roster] max_retire_percent = 0` stops a sync retiring a single patient."""
    config, export = practice
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace("max_retire_percent = 10", "max_retire_percent = 0"),
        encoding="utf-8",
    )
    roster(export, 20, without=(1,))
    result = run_cli("--config", config, "sync")
    assert result.returncode == 1
    assert "limite de 0 %" in result.stderr
    assert len(active_ids(config)) == 20


def test_a_bad_limit_names_its_key(run_cli, practice):
    """`max_retire_percent = 150` is a configuration error naming the key (exit 2)."""
    config, _ = practice
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace("max_retire_percent = 10", "max_retire_percent = 150"),
        encoding="utf-8",
    )
    result = run_cli("--config", config, "sync")
    assert result.returncode == 2
    assert "roster.max_retire_percent" in result.stderr


def test_an_unreadable_export_is_an_error_and_retires_no_one(run_cli, practice):
    """A roster whose header lost a column: exit 1 naming file and column, store unchanged."""
    config, export = practice
    before = audit_entries(config)
    text = export.read_bytes().decode("cp1252").replace(";Sexe", ";Genre")
    export.write_bytes(text.encode("cp1252"))
    result = run_cli("--config", config, "sync")
    assert result.returncode == 1
    assert f"{export}, ligne 1, colonne « sexe »" in result.stderr
    assert "colonnes absentes de l'en-tête : sexe" in result.stderr
    assert len(active_ids(config)) == 20
    assert audit_entries(config) == before


def test_an_export_whose_every_line_is_bad_is_an_error(run_cli, practice):
    """Every birth date unreadable: the lines are listed, exit 1, nothing retired."""
    config, export = practice
    text = export.read_bytes().decode("cp1252").replace("/03/1970", "/03/70")
    export.write_bytes(text.encode("cp1252"))
    result = run_cli("--config", config, "sync")
    assert result.returncode == 1
    assert "aucun patient utilisable" in result.stderr
    assert f"{export}, ligne 21, colonne « date_naissance »" in result.stderr
    assert len(active_ids(config)) == 20


def test_an_empty_export_file_is_an_error(run_cli, practice):
    """A roster emptied by a failed export: exit 1, nothing retired."""
    config, export = practice
    export.write_bytes(b"")
    result = run_cli("--config", config, "sync")
    assert result.returncode == 1
    assert "fichier vide" in result.stderr
    assert len(active_ids(config)) == 20


def test_the_first_sync_of_an_empty_store_is_never_stopped(run_cli, tmp_path):
    """An installation made without a roster loads its first one whole."""
    assert run_cli("init", "inst").returncode == 0
    config = tmp_path / "inst" / "fmt.toml"
    export = roster(tmp_path / "patients.csv", 5)
    with config.open("a", encoding="utf-8") as out:
        out.write(f'\n[adapters.csv_roster]\nroster = "{export}"\n')
    result = run_cli("--config", config, "sync")
    assert result.returncode == 0, result.stderr
    assert "5 ajoutés" in result.stdout


@pytest.mark.parametrize(
    ("leaving", "active", "limit", "stopped"),
    [
        (0, 0, 10, False),
        (1, 10, 10, False),
        (2, 10, 10, True),
        (100, 1000, 10, False),
        (101, 1000, 10, True),
        (1, 1000, 0, True),
        (1000, 1000, 100, False),
    ],
)
def test_too_many_departures_is_strictly_above_the_limit(
    leaving, active, limit, stopped
):
    """The limit itself is allowed; one patient more is not."""
    assert too_many_departures(leaving, active, limit) is stopped
