"""Checkpoint a store's write-ahead log from a thread of its own, so commits never pay for it.

SQLite checkpoints the WAL into the database file automatically, inside whichever commit crosses
1,000 pages: that commit then also writes and fsyncs the database file, which is what made one
ACK in a hundred take 7 ms instead of 1 (bench/mllp_ingest.py). The service turns the
automatic checkpoint off on its writing connection and runs this one instead: a PASSIVE
checkpoint on a separate connection never blocks the writer.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from fmt_plugin.storage import db

if TYPE_CHECKING:
    from fmt_plugin.storage.store import Store

log = logging.getLogger(__name__)


@contextmanager
def checkpointing_in_background(store: Store) -> Iterator[WalCheckpointer]:
    """Within, `store`'s commits only append to the WAL; a WalCheckpointer copies it back.

    For the long writers, the listener and `import`: the checkpoint's reads and fsyncs run
    on another thread (without the GIL, in SQLite) while the writer goes on parsing.
    """
    checkpointer = WalCheckpointer(store.path)
    store.disable_autocheckpoint()
    checkpointer.start()
    try:
        yield checkpointer
    finally:
        checkpointer.stop()
        store.enable_autocheckpoint()


class WalCheckpointer:
    """Every `interval_s`, copies committed WAL pages into the database file (PASSIVE)."""

    def __init__(self, path: Path, *, interval_s: float = 1.0) -> None:
        self._path = path
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.checkpoints = 0

    def start(self) -> None:
        """Start checkpointing, on a connection the thread opens (SQLite's thread rule)."""
        self._thread = threading.Thread(
            target=self._run, name="fmt-checkpoint", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Checkpoint one last time and close the connection."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        try:
            conn = db.connect(self._path)
        except Exception as exc:  # noqa: BLE001 -- logged: commits still land in the WAL
            log.error(
                "WAL checkpointer could not open the store: %s", type(exc).__name__
            )
            return
        try:
            while not self._stop.wait(self._interval):
                self._checkpoint(conn)
            self._checkpoint(conn)
        finally:
            conn.close()

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            self.checkpoints += 1
        except sqlite3.Error as exc:
            # A busy database or a full disk: the next round tries again; the WAL keeps
            # every commit meanwhile, so nothing is lost.
            log.warning("WAL checkpoint failed (%s), will retry", type(exc).__name__)
