"""The connection layer: one component's SQL, with `?` placeholders, on both backends."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from contextlib import closing
from pathlib import Path

import psycopg
import pytest

from fmt_plugin.storage.connection import (
    PostgresConnection,
    dialect_of,
    to_psycopg,
    transaction,
)

REPO = Path(__file__).resolve().parent.parent
ADD_PATIENT = "INSERT INTO patients (patient_id, identity, active) VALUES (?, ?, ?)"


class Boom(Exception):
    """Raised inside a transaction to see what is left behind."""


def patient_ids(conn) -> list[str]:
    rows = conn.execute("SELECT patient_id FROM patients ORDER BY patient_id")
    return [patient_id for (patient_id,) in rows]


# --- placeholders ---------------------------------------------------------------------


def test_a_question_mark_inside_a_string_literal_is_text_not_a_placeholder(backend):
    """Only the `?` outside quotes takes a parameter, as SQLite reads the statement."""
    row = backend.conn.execute("SELECT 'why?', 'it''s ?', ?", ("answer",)).fetchone()
    assert tuple(row) == ("why?", "it's ?", "answer")


def test_a_percent_sign_in_the_sql_text_reaches_the_engine_unchanged(backend):
    """`%` in a literal and as the modulo operator means what it means in SQL."""
    row = backend.conn.execute("SELECT '100%', 7 % 3, ?", (1,)).fetchone()
    assert tuple(row) == ("100%", 1, 1)


def test_a_percent_sign_survives_in_a_statement_without_parameters(backend):
    """No parameters given: `%` is still sent as `%`, never as `%%`."""
    assert tuple(backend.conn.execute("SELECT 'a%b'").fetchone()) == ("a%b",)


def test_the_translation_leaves_quoted_identifiers_and_comments_alone():
    """`?` in "identifiers" and comments is text; `%` is escaped everywhere."""
    sql = "SELECT \"odd?name\", ? -- why? 5%\n, ? /* or? */ FROM t WHERE a LIKE 'x%'"
    assert to_psycopg(sql) == (
        "SELECT \"odd?name\", %s -- why? 5%%\n, %s /* or? */ FROM t WHERE a LIKE 'x%%'"
    )


def test_the_translation_of_a_statement_is_made_once():
    """The listener's statements are translated on their first use only."""
    sql = "SELECT ? /* test_the_translation_of_a_statement_is_made_once */"
    first = to_psycopg(sql)
    assert to_psycopg(sql) is first


# --- values and rows ------------------------------------------------------------------


def test_a_bytea_value_comes_back_as_bytes_as_a_blob_does(backend):
    """Ciphertexts read back are `bytes` on both backends, every byte intact."""
    blob = bytes(range(256)) + b"%?'"
    with backend.write():
        backend.conn.execute(ADD_PATIENT, ("P1", blob, 1))
    (value,) = backend.conn.execute(
        "SELECT identity FROM patients WHERE patient_id = ?", ("P1",)
    ).fetchone()
    assert type(value) is bytes
    assert value == blob


def test_executemany_runs_the_statement_once_per_row(backend):
    """Every parameter row is written."""
    with backend.write():
        backend.conn.executemany(ADD_PATIENT, [("P1", b"a", 1), ("P2", b"b", 0)])
    assert patient_ids(backend.conn) == ["P1", "P2"]


def test_rowcount_tells_how_many_rows_a_statement_changed(backend):
    """`rowcount` of an UPDATE counts its rows on both backends."""
    with backend.write():
        backend.conn.executemany(ADD_PATIENT, [("P1", b"a", 1), ("P2", b"b", 1)])
        changed = backend.conn.execute("UPDATE patients SET active = ?", (0,))
        assert changed.rowcount == 2


# --- transactions ---------------------------------------------------------------------


def test_a_transaction_commits_what_its_block_wrote(backend):
    """A block that ends normally leaves its writes in the database."""
    with transaction(backend.conn):
        backend.conn.execute(ADD_PATIENT, ("P1", b"a", 1))
    assert patient_ids(backend.conn) == ["P1"]


def test_a_transaction_rolls_back_everything_when_its_block_raises(backend):
    """An exception in the block undoes all its writes and propagates."""
    with transaction(backend.conn):
        backend.conn.execute(ADD_PATIENT, ("P0", b"a", 1))
    with pytest.raises(Boom):
        write_two_then_raise(backend.conn)
    assert patient_ids(backend.conn) == ["P0"]


def test_a_failed_statement_rolls_back_the_statements_before_it(backend):
    """A constraint violation mid-transaction leaves nothing of the transaction."""
    with pytest.raises((sqlite3.IntegrityError, psycopg.IntegrityError)):
        write_the_same_patient_twice(backend.conn)
    assert patient_ids(backend.conn) == []


def write_two_then_raise(conn) -> None:
    with transaction(conn):
        conn.executemany(ADD_PATIENT, [("P1", b"a", 1), ("P2", b"b", 1)])
        raise Boom


def write_the_same_patient_twice(conn) -> None:
    with transaction(conn):
        conn.execute(ADD_PATIENT, ("P1", b"a", 1))
        conn.execute(ADD_PATIENT, ("P1", b"b", 1))


# --- the two backends -----------------------------------------------------------------


def test_the_sqlite_backend_is_a_bare_sqlite3_connection(backend):
    """SQLite, the listener's hot path, is used unwrapped; PostgreSQL is wrapped."""
    expected = {"sqlite": sqlite3.Connection, "postgresql": PostgresConnection}
    assert type(backend.conn) is expected[backend.name]
    assert dialect_of(backend.conn) == backend.name


def test_mypy_accepts_a_sqlite3_connection_as_a_store_connection(tmp_path):
    """`sqlite3.Connection` conforms to StoreConnection structurally; a mere object does not."""
    snippet = tmp_path / "conforms.py"
    snippet.write_text(
        textwrap.dedent(
            """\
            import sqlite3
            from fmt_plugin.storage.connection import StoreConnection

            def component(conn: StoreConnection) -> None: ...

            component(sqlite3.connect(":memory:"))
            component(object())
            """
        ),
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", snippet.name],
        cwd=tmp_path,
        env={"MYPYPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1, done.stdout + done.stderr
    assert errors[0].startswith("conforms.py:7:"), done.stdout


def test_something_else_is_no_store_connection():
    """dialect_of and transaction refuse an object that is neither backend."""
    with pytest.raises(TypeError, match="not a store connection"):
        dialect_of(object())  # type: ignore[arg-type]
    with (
        pytest.raises(TypeError, match="not a store connection"),
        transaction(
            object()  # type: ignore[arg-type]
        ),
    ):
        pass


def test_closing_a_postgres_connection_closes_the_psycopg_one(pg_database):
    """`closing(PostgresConnection(...))` leaves no server connection behind."""
    from fmt_plugin.storage import pg_schema

    with closing(PostgresConnection(pg_schema.connect(pg_database, "cab_x"))) as conn:
        raw = conn.raw
    assert raw.closed
    assert repr(conn) == "<PostgresConnection>"
