"""`fmt-plugin backup` and `restore` run as the practice runs them, on real store files."""

from __future__ import annotations

import base64
import json
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from conftest import CliResult, RunCli, raw, record_exclusion, start_lock_holder

from fmt_plugin.config import load_config
from fmt_plugin.storage import KeyRing, load_key_file
from fmt_plugin.storage.backup import inspect_backup

#: Appends audited admin actions to the store, as fast as it can, until stdin closes.
WRITER = """
import sys, threading
from pathlib import Path
from fmt_plugin.installation import open_installation
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
with open_installation(Path(sys.argv[1])) as installation:
    installation.store.record_admin_action(actor="writer", action="keys.rotate")
    print("writing", flush=True)
    while not stop.is_set():
        installation.store.record_admin_action(actor="writer", action="keys.rotate")
"""


@pytest.fixture
def config(synced_installation: Path) -> Path:
    """The installation every test here works on: the public scenario's, synced."""
    return synced_installation


def store_file(config: Path) -> Path:
    return config.parent / "fmt.sqlite3"


def backup(run_cli: RunCli, config: Path, destination: Path) -> CliResult:
    return run_cli("--config", config, "backup", destination)


def restore(run_cli: RunCli, config: Path, source: Path, *extra: str) -> CliResult:
    return run_cli("--config", config, "restore", source, *extra)


def count(path: Path, table: str) -> int:
    with raw(path) as conn:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])  # noqa: S608


def last_action(path: Path) -> tuple[str, str | None]:
    with raw(path) as conn:
        row = conn.execute(
            "SELECT action, detail FROM audit_log ORDER BY seq DESC LIMIT 1"
        ).fetchone()
    return row[0], row[1]


def keyring_of(config: Path) -> KeyRing:
    settings = load_config(config)
    return load_key_file(settings.store.key_file)


@pytest.fixture
def made(run_cli: RunCli, config: Path, tmp_path: Path) -> Path:
    """A backup of the synced installation."""
    target = tmp_path / "sauvegarde.sqlite3"
    result = backup(run_cli, config, target)
    assert result.returncode == 0, result.stderr
    return target


@pytest.fixture
def lock_holder(config: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the installation lock, as a running `serve` does."""
    proc = start_lock_holder(store_file(config))
    yield proc
    proc.communicate("", timeout=10)


# --- backup ---------------------------------------------------------------------------------


def test_a_backup_is_a_checked_private_file_that_needs_no_wal(made, config):
    assert made.stat().st_mode & 0o777 == 0o600
    assert not Path(f"{made}-wal").exists()
    # Bytes 18 and 19 of the header: 1 is a rollback journal, 2 would need a -wal.
    assert made.read_bytes()[18:20] == b"\x01\x01"
    summary = inspect_backup(made, keyring_of(config))
    assert summary.counts["patients"] == count(store_file(config), "patients")


def test_a_backup_holds_no_key_of_the_key_file(made, config):
    document = json.loads((config.parent / "fmt.key").read_text(encoding="utf-8"))
    secrets = document["secrets"]
    keys = [*secrets["data_keys"].values(), secrets["index_key"], secrets["audit_key"]]
    content = made.read_bytes()
    for encoded in keys:
        assert encoded.encode() not in content
        assert base64.b64decode(encoded) not in content


def test_a_backup_into_a_folder_gets_a_dated_name(run_cli, config, tmp_path):
    folder = tmp_path / "sauvegardes"
    folder.mkdir()
    result = backup(run_cli, config, folder)
    assert result.returncode == 0, result.stderr
    (copy,) = folder.iterdir()
    assert copy.name.startswith("fmt-")
    assert copy.suffix == ".sqlite3"
    assert str(copy) in result.stdout


def test_a_backup_never_replaces_an_existing_file(run_cli, config, made):
    before = made.read_bytes()
    result = backup(run_cli, config, made)
    assert result.returncode == 1
    assert "existe déjà" in result.stderr
    assert made.read_bytes() == before


def test_a_backup_is_audited_in_the_live_store(made, config):
    action, detail = last_action(store_file(config))
    assert action == "store.backup"
    assert detail is not None
    assert detail.startswith(f"file={made.name} ")


def test_a_backup_taken_while_another_process_writes_is_consistent(
    run_cli, config, tmp_path
):
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "writing"
        result = backup(run_cli, config, tmp_path / "a-chaud.sqlite3")
    finally:
        writer.communicate("", timeout=60)
    assert result.returncode == 0, result.stderr
    # Its chain verifies from the creation entry to its own head, counts and all.
    summary = inspect_backup(tmp_path / "a-chaud.sqlite3", keyring_of(config))
    assert summary.counts["audit_log"] == summary.audit_seq
    assert summary.audit_seq < count(store_file(config), "audit_log")


# --- restore --------------------------------------------------------------------------------


def test_restoring_an_older_backup_brings_it_back_and_the_chain_verifies(
    run_cli, config, made
):
    record_exclusion(run_cli, config)
    assert count(store_file(config), "overrides") == 1
    result = restore(run_cli, config, made, "--oui")
    assert result.returncode == 0, result.stderr
    assert count(store_file(config), "overrides") == 0
    verified = run_cli("--config", config, "audit", "verify")
    assert verified.returncode == 0, verified.stdout
    action, detail = last_action(store_file(config))
    assert action == "store.restore"
    assert detail is not None
    assert f"file={made.name}" in detail


def test_the_replaced_store_is_kept_aside_with_its_decision(run_cli, config, made):
    record_exclusion(run_cli, config)
    result = restore(run_cli, config, made, "--oui")
    assert result.returncode == 0, result.stderr
    (aside,) = config.parent.glob("fmt.sqlite3.avant-restauration-*[0-9]")
    assert aside.stat().st_mode & 0o777 == 0o600
    assert count(aside, "overrides") == 1
    assert str(aside) in result.stdout


def test_a_restore_says_how_much_is_lost_and_needs_a_confirmation(
    run_cli, config, made
):
    record_exclusion(run_cli, config)
    before = store_file(config).read_bytes()
    result = restore(run_cli, config, made)
    assert result.returncode == 2
    assert "--oui" in result.stderr
    assert "sera perdu" in result.stdout
    assert store_file(config).read_bytes() == before
    assert count(store_file(config), "overrides") == 1


def test_a_backup_of_another_installation_is_refused(run_cli, config, tmp_path):
    other = run_cli("init", tmp_path / "autre")
    assert other.returncode == 0, other.stderr
    foreign = tmp_path / "autre.sqlite3"
    assert backup(run_cli, tmp_path / "autre" / "fmt.toml", foreign).returncode == 0
    result = restore(run_cli, config, foreign, "--oui")
    assert result.returncode == 1
    assert "n'appartient pas à ce fichier de clés" in result.stderr
    assert count(store_file(config), "patients") > 0


def test_a_truncated_backup_is_refused(run_cli, config, made, tmp_path):
    truncated = tmp_path / "tronquee.sqlite3"
    truncated.write_bytes(made.read_bytes()[: made.stat().st_size // 2])
    result = restore(run_cli, config, truncated, "--oui")
    assert result.returncode == 1
    assert str(truncated) in result.stderr
    assert "restaurée" not in result.stdout


def test_a_file_that_is_not_a_store_is_refused(run_cli, config, tmp_path):
    other = tmp_path / "autre.sqlite3"
    with closing(sqlite3.connect(other)) as conn:
        conn.execute("CREATE TABLE t (x)")
        conn.commit()
    result = restore(run_cli, config, other, "--oui")
    assert result.returncode == 1
    assert "pas une base fmt-plugin" in result.stderr


def test_a_backup_whose_audit_chain_was_edited_is_refused(run_cli, config, made):
    with raw(made) as conn:
        conn.execute("UPDATE audit_log SET actor = 'quelquun' WHERE seq = 2")
    result = restore(run_cli, config, made, "--oui")
    assert result.returncode == 1
    assert "journal d'audit de la sauvegarde rompu à l'entrée n° 2" in result.stderr


def test_a_restore_is_refused_while_the_service_holds_the_installation(
    run_cli, config, made, lock_holder
):
    record_exclusion(run_cli, config)
    result = restore(run_cli, config, made, "--oui")
    assert result.returncode == 2
    assert f"pid {lock_holder.pid}" in result.stderr
    assert count(store_file(config), "overrides") == 1


def test_a_restore_on_a_new_machine_rebuilds_store_and_anchor(
    run_cli, config, made, tmp_path
):
    """Key and configuration from their own copies, no store, no anchor: the backup returns."""
    machine = tmp_path / "neuve"
    machine.mkdir(mode=0o700)
    shutil.copy2(config.parent / "fmt.key", machine / "fmt.key")
    shutil.copy2(config, machine / "fmt.toml")
    result = restore(run_cli, machine / "fmt.toml", made, "--oui")
    assert result.returncode == 0, result.stderr
    assert count(machine / "fmt.sqlite3", "patients") == count(made, "patients")
    assert (machine / "fmt.key.audit-head").exists()
    verified = run_cli("--config", machine / "fmt.toml", "audit", "verify")
    assert verified.returncode == 0, verified.stdout


def test_a_copy_made_by_sqlite_itself_restores_and_nothing_appears_beside_it(
    run_cli, config, tmp_path
):
    """The copies the earlier documentation made (`sqlite3 .backup`) are marked WAL inside."""
    folder = tmp_path / "ancienne-methode"
    folder.mkdir()
    copy = folder / "fmt.sqlite3"
    with raw(store_file(config)) as source, closing(sqlite3.connect(copy)) as target:
        source.backup(target)
    assert copy.read_bytes()[18:20] == b"\x02\x02"
    record_exclusion(run_cli, config)
    result = restore(run_cli, config, copy, "--oui")
    assert result.returncode == 0, result.stderr
    assert count(store_file(config), "overrides") == 0
    assert sorted(p.name for p in folder.iterdir()) == ["fmt.sqlite3"]


def test_a_live_store_with_its_wal_is_refused_as_a_backup(run_cli, config, tmp_path):
    live = tmp_path / "vivante.sqlite3"
    live.write_bytes(store_file(config).read_bytes())
    Path(f"{live}-wal").write_bytes(b"")
    result = restore(run_cli, config, live, "--oui")
    assert result.returncode == 1
    assert "fmt-plugin backup" in result.stderr
