"""The WAL checkpointer: commits stop checkpointing, a thread of its own does it."""

from __future__ import annotations

from fmt_plugin.model import Patient
from fmt_plugin.storage import Store
from fmt_plugin.storage.checkpoint import WalCheckpointer, checkpointing_in_background


def patients(n: int) -> list[Patient]:
    return [Patient(patient_id=f"P{i:05d}", source="test") for i in range(n)]


def test_without_autocheckpoint_commits_only_grow_the_wal(store_path, keyring):
    """With the automatic checkpoint off, 3,000 new rows leave the database file as it was."""
    with Store.create(store_path, keyring, actor="test") as store:
        store.disable_autocheckpoint()
        before = store_path.stat().st_size
        store.sync_roster(patients(3000), actor="test")
        assert store_path.stat().st_size == before


def test_the_checkpointer_copies_the_wal_into_the_database(store_path, keyring):
    """Stopping the checkpointer checkpoints what the writer left in the WAL."""
    with Store.create(store_path, keyring, actor="test") as store:
        store.disable_autocheckpoint()
        store.sync_roster(patients(3000), actor="test")
        before = store_path.stat().st_size
        checkpointer = WalCheckpointer(store_path, interval_s=3600)
        checkpointer.start()
        checkpointer.stop()
        assert checkpointer.checkpoints == 1
        assert store_path.stat().st_size > before
        assert len(store.patient_ids()) == 3000


def test_background_checkpointing_moves_the_checkpoint_off_the_writer(
    store_path, keyring
):
    """Inside, commits only grow the WAL and the thread checkpoints it when leaving."""
    with Store.create(store_path, keyring, actor="test") as store:
        before = store_path.stat().st_size
        with checkpointing_in_background(store) as checkpointer:
            store.sync_roster(patients(3000), actor="test")
            grown_in_wal = store_path.stat().st_size == before
        assert grown_in_wal
        assert checkpointer.checkpoints >= 1
        assert store_path.stat().st_size > before


def test_automatic_checkpoints_come_back_after_the_block(store_path, keyring):
    """Leaving the block gives commits SQLite's automatic checkpoint again."""
    with Store.create(store_path, keyring, actor="test") as store:
        with checkpointing_in_background(store):
            pass
        before = store_path.stat().st_size
        store.sync_roster(patients(20_000), actor="test")  # > 1,000 WAL pages
        assert store_path.stat().st_size > before
