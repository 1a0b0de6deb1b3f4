"""Every store component's tests on both backends: one fixture, `backend`, run twice.

`backend` is, in turn, a real SQLite file made as `Store.create` makes one and a fresh
PostgreSQL database with a practice's schema (the `pg_database` fixture), both migrated to
the latest schema, each with the `write` callable a component takes. A test written
against `backend.conn` therefore checks that the component's SQL means the same on both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, closing
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest

from fmt_plugin.storage import db, pg_schema
from fmt_plugin.storage.connection import (
    Dialect,
    PostgresConnection,
    StoreConnection,
    transaction,
)

BACKENDS: tuple[Dialect, ...] = ("sqlite", "postgresql")
PRACTICE = "cab_test"


@dataclass(frozen=True)
class Backend:
    """A migrated store database and how a component writes to it."""

    name: Dialect
    conn: StoreConnection
    write: Callable[[], AbstractContextManager[None]]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """A migrated store on SQLite, then on PostgreSQL (skipped or failed as `postgres_dsn`)."""
    if request.param == "sqlite":
        yield from _sqlite(tmp_path / "store.sqlite")
    else:
        # Asked for here only: the SQLite run must not need a PostgreSQL server.
        yield from _postgresql(request.getfixturevalue("pg_database"))


def _sqlite(path: Path) -> Iterator[Backend]:
    with closing(db.connect(path, create=True)) as conn:
        db.migrate(conn, path)
        yield Backend("sqlite", conn, partial(transaction, conn))


def _postgresql(dsn: str) -> Iterator[Backend]:
    with closing(PostgresConnection(pg_schema.connect(dsn, PRACTICE))) as conn:
        pg_schema.migrate(conn.raw, PRACTICE)
        yield Backend("postgresql", conn, partial(transaction, conn))
