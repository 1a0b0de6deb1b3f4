"""Patient data never appears in clear: not in the database file, its WAL, the logs or the output."""

from __future__ import annotations

import csv
import logging
from datetime import date
from pathlib import Path

import pytest

from fmt_plugin.installation import open_installation
from fmt_plugin.roster import collect_roster


def identifying_values(roster_csv: Path) -> list[str]:
    """Names, first names, INS and birth dates of the scenario's patients."""
    with roster_csv.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    values = []
    for row in rows:
        values += [row["nom"], row["prenom"], row["ins"], row["date_naissance"]]
        values.append(row["date_naissance"].replace("-", ""))
    return values


@pytest.fixture
def secrets(public_scenario) -> list[str]:
    values = identifying_values(public_scenario / "roster.csv")
    assert "ROLLAND" in values  # the scenario is what this test believes it is
    return values


def test_database_and_wal_hold_no_identity_in_clear(installation, secrets, caplog):
    """After loading the public roster, neither the SQLite file nor its WAL contain it in clear."""
    caplog.set_level(logging.DEBUG)
    with open_installation(installation) as inst:
        roster = collect_roster(inst.pm, date(2026, 3, 15))
        inst.store.sync_roster(roster.patients, actor="test")
        db_path = inst.config.store.path
        wal = Path(f"{db_path}-wal")
        assert wal.exists()  # WAL mode: the writes are there until a checkpoint
        raw = db_path.read_bytes() + wal.read_bytes()
        assert inst.store.get_patient("Q05").nom == "ROLLAND"
    raw_after_close = db_path.read_bytes()
    for value in secrets:
        needle = value.encode("utf-8")
        assert needle not in raw, value
        assert needle not in raw_after_close, value
    assert len(inst.store.path.read_bytes()) > 0


def test_logs_hold_no_patient_data(installation, secrets, caplog):
    """Loading and reading the roster at DEBUG level logs no identity."""
    caplog.set_level(logging.DEBUG)
    with open_installation(installation) as inst:
        roster = collect_roster(inst.pm, date(2026, 3, 15))
        inst.store.sync_roster(roster.patients, actor="test")
        for patient in inst.store.iter_patients():
            logging.getLogger("fmt_plugin.test").debug("read %r", patient)
        inst.store.verify_audit()
    text = caplog.text
    assert "Q05" in text  # the internal id is what logs carry
    for value in secrets:
        assert value not in text, value


def test_cli_output_holds_no_patient_data(run_cli, public_scenario, secrets):
    """init, sync, check-config and audit verify print no identity on any stream."""
    outputs = [
        run_cli(
            "init",
            "inst",
            "--roster",
            public_scenario / "roster.csv",
            "--acts",
            public_scenario / "acts.csv",
        )
    ]
    for command in (["sync"], ["check-config"], ["audit", "verify"]):
        outputs.append(run_cli("--config", "inst/fmt.toml", *command))
    assert all(result.returncode == 0 for result in outputs)
    text = "".join(result.stdout + result.stderr for result in outputs)
    for value in secrets:
        assert value not in text, value


def test_patient_repr_shows_only_the_internal_id(public_scenario):
    """A Patient printed in a traceback or log shows its id and source, nothing else."""
    from fmt_plugin.adapters.csv_roster import read_roster

    patients, _ = read_roster(public_scenario / "roster.csv")
    text = repr(patients)
    assert "Q05" in text
    for value in identifying_values(public_scenario / "roster.csv"):
        assert value not in text
