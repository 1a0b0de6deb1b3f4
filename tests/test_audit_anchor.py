"""The audit chain anchored outside the database: emptied, truncated and rolled-back logs are refused.

Each attack is run as an attacker with write access to the database file would run it (raw
SQL, an old copy of the file), and checked with `fmt-plugin audit verify` as the practice
would check it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from conftest import CliResult, RunCli, raw, record_exclusion

from fmt_plugin.config import load_config
from fmt_plugin.installation import open_installation
from fmt_plugin.storage import Store, load_key_file


@pytest.fixture
def config(synced_installation: Path) -> Path:
    """The installation every test here works on: the public scenario's, synced."""
    return synced_installation


def store_file(config: Path) -> Path:
    return config.parent / "fmt.sqlite3"


def anchor_file(config: Path) -> Path:
    return config.parent / "fmt.key.audit-head"


def verify(run_cli: RunCli, config: Path) -> CliResult:
    return run_cli("--config", config, "audit", "verify")


def head_row(path: Path) -> tuple[object, ...]:
    with raw(path) as conn:
        row = conn.execute("SELECT id, seq, mac, head_mac FROM audit_head").fetchone()
    assert row is not None
    return tuple(row)


def last_seq(path: Path) -> int:
    with raw(path) as conn:
        return int(conn.execute("SELECT MAX(seq) FROM audit_log").fetchone()[0])


def roll_back_to(path: Path, head: tuple[object, ...]) -> None:
    """Delete every entry after the saved head and write the saved head back."""
    with raw(path) as conn:
        conn.execute("DELETE FROM audit_log WHERE seq > ?", (head[1],))
        conn.execute("DELETE FROM audit_head")
        conn.execute(
            "INSERT INTO audit_head (id, seq, mac, head_mac) VALUES (?, ?, ?, ?)", head
        )


def copy_database(path: Path, destination: Path) -> None:
    """A consistent copy of the store file, as `sqlite3 .backup` makes it."""
    with raw(path) as source, closing(sqlite3.connect(destination)) as target:
        source.backup(target)


# --- the attacks of the issue ---------------------------------------------------------------


def test_a_verified_installation_says_its_anchor_agrees(run_cli, config):
    result = verify(run_cli, config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ancre externe" in result.stdout
    assert "concordante" in result.stdout


def test_an_anchor_moved_on_by_root_keeps_the_service_accounts_owner(run_cli, config):
    os.chown(anchor_file(config), 4321, 4321)  # the service's, and root runs a command
    record_exclusion(run_cli, config)
    info = anchor_file(config).stat()
    assert (info.st_uid, info.st_gid) == (4321, 4321)
    assert info.st_mode & 0o777 == 0o600


def test_an_emptied_log_and_head_is_refused(run_cli, config):
    with raw(store_file(config)) as conn:
        conn.execute("DELETE FROM audit_log")
        conn.execute("DELETE FROM audit_head")
    result = verify(run_cli, config)
    assert result.returncode == 1
    assert "journal vide" in result.stdout
    assert "0 entrée" not in result.stdout


def test_an_emptied_log_is_refused_even_without_its_anchor_file(run_cli, config):
    with raw(store_file(config)) as conn:
        conn.execute("DELETE FROM audit_log")
        conn.execute("DELETE FROM audit_head")
    anchor_file(config).unlink()
    result = verify(run_cli, config)
    assert result.returncode == 1
    assert "journal vide" in result.stdout


def test_a_log_restarted_from_scratch_after_emptying_is_refused(run_cli, config):
    with raw(store_file(config)) as conn:
        conn.execute("DELETE FROM audit_log")
        conn.execute("DELETE FROM audit_head")
    # The next change starts a fresh, self-consistent chain at seq 1.
    record_exclusion(run_cli, config)
    result = verify(run_cli, config)
    assert result.returncode == 1
    assert "n° 1" in result.stdout


def test_rolling_back_the_head_after_an_override_is_refused(run_cli, config):
    saved = head_row(store_file(config))
    record_exclusion(run_cli, config)
    roll_back_to(store_file(config), saved)
    # The override is still in the store: only its audit entries were removed.
    with raw(store_file(config)) as conn:
        assert conn.execute("SELECT COUNT(*) FROM overrides").fetchone()[0] == 1
    result = verify(run_cli, config)
    assert result.returncode == 1
    assert "journal tronqué ou base remise à un état antérieur" in result.stdout


def test_rolling_back_and_deleting_the_anchor_is_refused(run_cli, config):
    saved = head_row(store_file(config))
    record_exclusion(run_cli, config)
    roll_back_to(store_file(config), saved)
    anchor_file(config).unlink()
    result = verify(run_cli, config)
    assert result.returncode == 1
    assert "ancre externe absente" in result.stdout


def test_an_older_copy_of_the_database_put_back_is_refused(run_cli, config, tmp_path):
    older = tmp_path / "older.sqlite3"
    copy_database(store_file(config), older)
    record_exclusion(run_cli, config)
    for suffix in ("-wal", "-shm"):
        store_file(config).with_name(store_file(config).name + suffix).unlink(
            missing_ok=True
        )
    shutil.copyfile(older, store_file(config))
    result = verify(run_cli, config)
    assert result.returncode == 1
    assert "l'ancre externe atteste l'entrée" in result.stdout


def test_a_rollback_stays_refused_after_the_chain_grows_past_the_anchor(
    run_cli, config
):
    saved = head_row(store_file(config))
    record_exclusion(run_cli, config)
    anchored = last_seq(store_file(config))
    roll_back_to(store_file(config), saved)
    # New changes grow the chain beyond the anchored seq, on another branch.
    with open_installation(config) as installation:
        for _ in range(anchored - int(str(saved[1])) + 1):
            installation.store.record_admin_action(actor="test", action="keys.rotate")
    assert last_seq(store_file(config)) > anchored
    result = verify(run_cli, config)
    assert result.returncode == 1
    assert f"l'entrée n° {anchored} n'est plus celle" in result.stdout


def test_a_forged_anchor_is_refused(run_cli, config):
    document = json.loads(anchor_file(config).read_text(encoding="utf-8"))
    document["seq"] = 2
    anchor_file(config).write_text(json.dumps(document), encoding="utf-8")
    result = verify(run_cli, config)
    assert result.returncode == 1
    assert "modifiée" in result.stdout


def test_another_installations_anchor_is_refused(run_cli, config, tmp_path):
    other = run_cli("init", tmp_path / "other")
    assert other.returncode == 0, other.stderr
    shutil.copyfile(tmp_path / "other" / "fmt.key.audit-head", anchor_file(config))
    result = verify(run_cli, config)
    assert result.returncode == 1
    assert "autre base" in result.stdout


# --- how the anchor moves ---------------------------------------------------------------


def test_every_change_moves_the_anchor_to_the_new_head(run_cli, config):
    before = json.loads(anchor_file(config).read_text(encoding="utf-8"))["seq"]
    record_exclusion(run_cli, config)
    after = json.loads(anchor_file(config).read_text(encoding="utf-8"))["seq"]
    assert after == last_seq(store_file(config))
    assert after > before


def test_the_anchor_file_is_readable_by_its_owner_only(config):
    assert anchor_file(config).stat().st_mode & 0o777 == 0o600


def test_an_anchor_lagging_behind_the_chain_is_accepted(run_cli, config):
    """A crash between a commit and the anchor write leaves the chain ahead: not a fault."""
    settings = load_config(config)
    keyring = load_key_file(settings.store.key_file)
    with Store.open(settings.store.path, keyring) as unanchored:
        unanchored.record_admin_action(actor="test", action="keys.rotate")
    assert verify(run_cli, config).returncode == 0


def test_a_store_made_before_anchoring_is_anchored_at_its_next_opening(run_cli, config):
    anchor_file(config).unlink()
    with raw(store_file(config)) as conn:
        conn.execute("DELETE FROM meta WHERE key = 'audit_anchored'")
    result = verify(run_cli, config)
    assert result.returncode == 0, result.stdout
    assert anchor_file(config).exists()
    with raw(store_file(config)) as conn:
        actions = [row[0] for row in conn.execute("SELECT action FROM audit_log")]
    assert actions[-1] == "audit.anchor"


def test_reanchor_recreates_a_lost_anchor_and_stays_in_the_log(run_cli, config):
    anchor_file(config).unlink()
    assert verify(run_cli, config).returncode == 1
    result = run_cli(
        "--config", config, "audit", "reanchor", "--raison", "nouveau serveur"
    )
    assert result.returncode == 0, result.stderr
    assert verify(run_cli, config).returncode == 0
    with raw(store_file(config)) as conn:
        action, detail = conn.execute(
            "SELECT action, detail FROM audit_log ORDER BY seq DESC LIMIT 1"
        ).fetchone()
    assert action == "audit.reanchor"
    assert detail == "raison=nouveau serveur"


def test_reanchor_refuses_to_vouch_for_a_broken_chain(run_cli, config):
    with raw(store_file(config)) as conn:
        conn.execute("UPDATE audit_log SET actor = 'quelquun' WHERE seq = 2")
    result = run_cli("--config", config, "audit", "reanchor", "--raison", "essai")
    assert result.returncode == 1
    assert "ancre non recréée" in result.stdout


# --- the system journal -----------------------------------------------------------------


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[tuple[socket.socket, Path]]:
    """A syslog datagram socket standing in for /dev/log (journald's)."""
    path = tmp_path / "dev-log"
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(str(path))
    receiver.settimeout(10)
    try:
        yield receiver, path
    finally:
        receiver.close()


def test_each_new_head_is_also_sent_to_the_system_journal(run_cli, config, journal):
    receiver, path = journal
    journal_to(config, path)
    record_exclusion(run_cli, config)
    line = receiver.recv(4096).decode("ascii")
    seq = last_seq(store_file(config))
    with raw(store_file(config)) as conn:
        mac = conn.execute("SELECT mac FROM audit_log WHERE seq = ?", (seq,)).fetchone()
    assert "fmt-plugin-audit" in line
    assert f"seq={seq}" in line
    assert f"mac={mac[0].hex()}" in line


def journal_to(config: Path, socket_path: Path) -> None:
    """Point the installation's `[audit] journal_socket` at `socket_path`."""
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace(
            'journal_socket = "/dev/log"', f'journal_socket = "{socket_path}"'
        ),
        encoding="utf-8",
    )


def drain(receiver: socket.socket) -> list[str]:
    """Every line the journal socket holds now (the sends are synchronous datagrams)."""
    receiver.setblocking(False)
    lines = []
    try:
        while True:
            lines.append(receiver.recv(4096).decode("ascii"))
    except BlockingIOError:
        pass
    receiver.settimeout(10)
    return lines


def test_the_journal_catches_the_store_and_its_anchor_rolled_back_together(
    run_cli, config, journal, tmp_path
):
    receiver, path = journal
    journal_to(config, path)
    older_store, older_anchor = tmp_path / "older.sqlite3", tmp_path / "older-anchor"
    copy_database(store_file(config), older_store)
    shutil.copyfile(anchor_file(config), older_anchor)
    record_exclusion(run_cli, config)
    exported = tmp_path / "journal.txt"
    exported.write_text("\n".join(drain(receiver)) + "\n", encoding="utf-8")
    for suffix in ("-wal", "-shm"):
        Path(f"{store_file(config)}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(older_store, store_file(config))
    shutil.copyfile(older_anchor, anchor_file(config))

    # Store and anchor agree with each other: only the journal still knows.
    assert verify(run_cli, config).returncode == 0
    result = run_cli("--config", config, "audit", "verify", "--journal-file", exported)
    assert result.returncode == 1
    assert "le journal système atteste l'entrée" in result.stdout


def test_the_journal_agrees_with_an_untouched_store(run_cli, config, journal, tmp_path):
    receiver, path = journal
    journal_to(config, path)
    record_exclusion(run_cli, config)
    exported = tmp_path / "journal.txt"
    # As `journalctl -o cat` prints them: the message without its syslog prefix.
    exported.write_text(
        "\n".join(line.split(": ", 1)[1] for line in drain(receiver)) + "\n",
        encoding="utf-8",
    )
    result = run_cli("--config", config, "audit", "verify", "--journal-file", exported)
    assert result.returncode == 0, result.stdout
    assert "journal système concordant" in result.stdout
