"""`fmt-plugin keys rotate`, `status` and `retire` on a practice whose every encrypted column holds values."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import EXCLUSION, PUBLIC_SCENARIO, CliResult, cli, raw, start_lock_holder
from service_process import Server, start_server

from fmt_plugin.config import load_config
from fmt_plugin.errors import DecryptionError
from fmt_plugin.installation import audit_anchor
from fmt_plugin.storage import Store, add_data_key, load_key_file
from fmt_plugin.storage.rekey import ENCRYPTED_COLUMNS, NOT_ENCRYPTED_BLOBS

AS_OF = "2026-06-01"
#: Values the template practice holds: 8 patients, their statuses, 10 HL7 messages, ...
COLUMNS = {column.label for column in ENCRYPTED_COLUMNS}
#: Rows of stores before schema 13: a practice made today has none.
LEGACY_COLUMNS = {"clinical_events.payload"}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One practice made as a user makes it, with a value in every encrypted column."""
    folder = tmp_path_factory.mktemp("practice")
    scenario = PUBLIC_SCENARIO
    steps: list[tuple[str | Path, ...]] = [
        ("init", folder / "inst", "--roster", scenario / "roster.csv",
         "--acts", scenario / "acts.csv"),
        ("import", *sorted((scenario / "messages").glob("*.hl7"))),
        EXCLUSION,
        ("recalls", "run", "--as-of", AS_OF),
        ("snapshot",),  # remembers every patient's statuses (today's)
    ]  # fmt: skip
    config = folder / "inst" / "fmt.toml"
    for step in steps:
        args = step if step[0] == "init" else ("--config", config, *step)
        result = cli(folder, *args)
        # `import` exits 1: one scenario message is about a patient the practice lacks.
        assert result.returncode in (0, 1), result.stderr
    return folder / "inst"


@pytest.fixture
def config(template: Path, tmp_path: Path) -> Path:
    """A copy of the template practice of its own, for one test."""
    folder = tmp_path / "inst"
    shutil.copytree(template, folder)
    return folder / "fmt.toml"


def keys(config: Path, *args: str) -> CliResult:
    return cli(config.parent, "--config", config, "keys", *args)


def status(config: Path) -> dict:
    result = keys(config, "status", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def report(config: Path) -> str:
    result = cli(config.parent, "--config", config, "report", "--as-of", AS_OF)
    assert result.returncode == 0, result.stderr
    return result.stdout


def file_key_ids(config: Path) -> list[str]:
    return sorted(
        json.loads((config.parent / "fmt.key").read_text())["secrets"]["data_keys"]
    )


def header_key_ids(config: Path) -> set[str]:
    """The key id every stored ciphertext names, read straight from the file."""
    found: set[str] = set()
    with raw(config.parent / "fmt.sqlite3") as conn:
        for column in ENCRYPTED_COLUMNS:
            rows = conn.execute(
                f"SELECT DISTINCT lower(hex(substr({column.column}, 2, 4)))"  # noqa: S608
                f" FROM {column.table} WHERE {column.column} IS NOT NULL"
            )
            found |= {row[0] for row in rows}
    return found


def actions(config: Path) -> list[str]:
    with raw(config.parent / "fmt.sqlite3") as conn:
        return [
            row[0] for row in conn.execute("SELECT action FROM audit_log ORDER BY seq")
        ]


def set_slice_rows(config: Path, rows: int) -> None:
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace("# reencrypt_slice_rows = 500", f"reencrypt_slice_rows = {rows}"),
        encoding="utf-8",
    )


def open_store(config: Path) -> Store:
    settings = load_config(config)
    keyring = load_key_file(settings.store.key_file)
    return Store.open(settings.store.path, keyring, anchor=audit_anchor(settings))


def start_rotation_by_hand(config: Path, values: int) -> str:
    """A rotation that stopped after `values` values: a new key, part re-encrypted."""
    new = add_data_key(config.parent / "fmt.key").primary_id
    with open_store(config) as store:
        store.reencrypt_slice(limit=values, actor="test")
    return new


@pytest.fixture
def service(config: Path, tmp_path: Path) -> Iterator[Server]:
    running = start_server(config, tmp_path)
    yield running
    running.stop()


# --- the schema and `keys status` -------------------------------------------------------


def test_every_blob_column_of_the_schema_is_either_rotated_or_known_to_hold_no_ciphertext(
    config,
):
    with raw(config.parent / "fmt.sqlite3") as conn:
        tables = [
            r[0]
            for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        blobs = {
            f"{table}.{col[1]}"
            for table in tables
            for col in conn.execute(f"PRAGMA table_info({table})")
            if col[2].upper() == "BLOB"
        }
    assert blobs == COLUMNS | NOT_ENCRYPTED_BLOBS


def test_status_counts_the_values_of_every_encrypted_column_under_the_one_key(config):
    document = status(config)
    (key_id,) = file_key_ids(config)
    assert document["primary"] == key_id
    assert set(document["keys"][key_id]["by_column"]) == COLUMNS - LEGACY_COLUMNS
    assert all(count > 0 for count in document["keys"][key_id]["by_column"].values())
    assert document["rotation"] == "none"


def test_status_in_french_names_the_key_file_its_protection_and_the_index_key_policy(
    config,
):
    result = keys(config, "status")
    assert result.returncode == 0, result.stderr
    assert "sans phrase secrète" in result.stdout
    assert "primaire" in result.stdout
    assert "identités des patients : 8" in result.stdout
    assert "Clé d'index aveugle et clé d'audit : ne changent jamais" in result.stdout


# --- rotation with the service stopped --------------------------------------------------


def test_rotate_with_the_service_stopped_reencrypts_every_value_under_a_new_key(config):
    (old,) = file_key_ids(config)
    result = keys(config, "rotate")
    assert result.returncode == 0, result.stderr
    (new,) = file_key_ids(config)
    assert new != old
    assert header_key_ids(config) == {new}


def test_rotate_retires_the_old_key_once_nothing_is_under_it(config):
    (old,) = file_key_ids(config)
    result = keys(config, "rotate")
    assert f"Ancienne(s) clé(s) retirée(s) : {old}" in result.stdout
    assert old not in file_key_ids(config)
    assert status(config)["rotation"] == "none"


def test_a_rotated_practice_reads_exactly_as_before(config):
    before = report(config)
    assert keys(config, "rotate").returncode == 0
    assert report(config) == before
    overrides = cli(config.parent, "--config", config, "overrides")
    assert "Dr Martin" in overrides.stdout


def test_the_old_key_decrypts_nothing_after_the_rotation(config, tmp_path):
    old_key_file = tmp_path / "ancienne.key"
    shutil.copy2(config.parent / "fmt.key", old_key_file)
    assert keys(config, "rotate").returncode == 0
    settings = load_config(config)
    with (
        Store.open(settings.store.path, load_key_file(old_key_file)) as store,
        pytest.raises(DecryptionError),
    ):
        store.get_patient("Q05")


def test_every_rotation_step_is_audited_and_the_chain_still_verifies(config):
    assert keys(config, "rotate").returncode == 0
    done = actions(config)
    assert "keys.rotate" in done
    assert "keys.reencrypt" in done
    assert done[-1] == "keys.retire"
    verify = cli(config.parent, "--config", config, "audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_rotation_reencrypts_in_slices_of_the_configured_size(config):
    set_slice_rows(config, 7)
    total = sum(status(config)["keys"][file_key_ids(config)[0]]["by_column"].values())
    assert keys(config, "rotate").returncode == 0
    slices = actions(config).count("keys.reencrypt")
    assert slices == -(-total // 7)


def test_a_rotation_that_stopped_midway_resumes_under_the_same_new_key(config):
    (old,) = file_key_ids(config)
    new = start_rotation_by_hand(config, values=10)
    assert status(config)["to_reencrypt"] > 0
    result = keys(config, "rotate")
    assert result.returncode == 0, result.stderr
    assert "reprise" in result.stdout
    assert file_key_ids(config) == [new]
    assert header_key_ids(config) == {new}
    assert old not in file_key_ids(config)


def test_status_shows_a_rotation_under_way_and_what_is_left(config):
    (old,) = file_key_ids(config)
    new = start_rotation_by_hand(config, values=10)
    document = status(config)
    assert document["primary"] == new
    assert document["rotation"] == "reencrypting"
    assert document["keys"][new]["values"] == 10
    assert document["to_reencrypt"] == document["keys"][old]["values"] > 0
    text = keys(config, "status").stdout
    assert f"{old}  ancienne" in text
    assert "Rotation : en cours" in text


def test_a_value_that_does_not_decrypt_stops_the_rotation_naming_its_row_only(config):
    store_file = config.parent / "fmt.sqlite3"
    with raw(store_file) as conn:
        rowid, value = conn.execute(
            "SELECT rowid, events FROM hl7_messages WHERE events IS NOT NULL"
            " ORDER BY rowid LIMIT 1"
        ).fetchone()
        damaged = value[:-1] + bytes([value[-1] ^ 1])
        conn.execute(
            "UPDATE hl7_messages SET events = ? WHERE rowid = ?", (damaged, rowid)
        )
    (old,) = file_key_ids(config)
    result = keys(config, "rotate")
    assert result.returncode == 1
    assert f"hl7_messages.events, ligne {rowid} : valeur illisible" in result.stderr
    # The old key stays: values still under it must remain readable.
    assert old in file_key_ids(config)
    with raw(store_file) as conn:
        assert (
            conn.execute(
                "SELECT events FROM hl7_messages WHERE rowid = ?", (rowid,)
            ).fetchone()[0]
            == damaged
        )


def test_rotate_keeps_the_key_files_owner_and_mode(config):
    key_file = config.parent / "fmt.key"
    os.chown(key_file, 4321, 4321)  # the service account's, rotated by root
    assert keys(config, "rotate").returncode == 0
    info = key_file.stat()
    assert (info.st_uid, info.st_gid) == (4321, 4321)
    assert info.st_mode & 0o777 == 0o600


# --- retire ------------------------------------------------------------------------------


def test_retire_is_refused_while_values_remain_under_the_old_key(config):
    (old,) = file_key_ids(config)
    start_rotation_by_hand(config, values=10)
    result = keys(config, "retire")
    assert result.returncode == 1
    assert "encore chiffrées sous l'ancienne clé" in result.stderr
    assert old in file_key_ids(config)


def test_retire_with_a_single_key_changes_nothing(config):
    before = (config.parent / "fmt.key").read_bytes()
    result = keys(config, "retire")
    assert result.returncode == 0
    assert "rien à retirer" in result.stdout
    assert (config.parent / "fmt.key").read_bytes() == before


def test_retire_is_refused_while_a_service_started_before_the_rotation_runs(config):
    new = start_rotation_by_hand(config, values=10_000)
    holder = start_lock_holder(
        config.parent / "fmt.sqlite3"
    )  # says no key: an old service
    try:
        result = keys(config, "retire")
    finally:
        holder.communicate("", timeout=10)
    assert result.returncode == 1
    assert "redémarrez le service" in result.stderr
    assert len(file_key_ids(config)) == 2
    assert new in file_key_ids(config)


def test_a_backup_made_before_the_rotation_is_refused_by_restore_after_it(
    config, tmp_path
):
    saved = tmp_path / "avant.sqlite3"
    made = cli(config.parent, "--config", config, "backup", saved)
    assert made.returncode == 0, made.stderr
    assert keys(config, "rotate").returncode == 0
    result = cli(config.parent, "--config", config, "restore", saved, "--oui")
    assert result.returncode == 1
    assert "clé de données retirée depuis" in result.stderr


# --- with the service running -----------------------------------------------------------


def test_rotate_while_the_service_runs_adds_the_key_and_says_to_restart_it(
    config, service
):
    (old,) = file_key_ids(config)
    result = keys(config, "rotate")
    assert result.returncode == 0, result.stderr
    assert "Redémarrez-le" in result.stdout
    assert len(file_key_ids(config)) == 2
    assert old in header_key_ids(config)  # nothing rewritten under the running service


@pytest.mark.slow
def test_the_restarted_service_reencrypts_in_the_background_then_retire_succeeds_under_it(
    config, tmp_path
):
    set_slice_rows(config, 5)
    first = start_server(config, tmp_path)
    try:
        assert keys(config, "rotate").returncode == 0
        refused = keys(config, "retire")
        assert refused.returncode == 1
    finally:
        first.stop()
    (new,) = set(file_key_ids(config)) - header_key_ids(config)
    second = start_server(config, tmp_path)
    try:
        second.wait_for_line(r"key rotation: every value is under key " + new)
        retired = keys(config, "retire")
        assert retired.returncode == 0, retired.stderr
        assert file_key_ids(config) == [new]
    finally:
        second.stop()
    assert header_key_ids(config) == {new}
    assert actions(config).count("keys.reencrypt") > 1


@pytest.mark.slow
def test_a_service_killed_during_the_background_reencryption_resumes_at_its_next_start(
    config, tmp_path
):
    set_slice_rows(config, 1)
    (old,) = file_key_ids(config)
    new = start_rotation_by_hand(config, values=0)  # left to the service
    first = start_server(config, tmp_path)
    first.wait_for_line(r"key rotation: \d+ value\(s\) to re-encrypt")
    first.stop(signal.SIGKILL)
    # One value a slice, a pause between slices: killed well before the end.
    assert header_key_ids(config) == {old, new}
    second = start_server(config, tmp_path)
    try:
        second.wait_for_line(r"key rotation: every value is under key " + new)
    finally:
        second.stop()
    assert header_key_ids(config) == {new}
    verify = cli(config.parent, "--config", config, "audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_sqlite_integrity_holds_after_a_rotation(config):
    assert keys(config, "rotate").returncode == 0
    with sqlite3.connect(config.parent / "fmt.sqlite3") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
