"""A practice's PostgreSQL schema: its migrations, its likeness to SQLite's, its isolation."""

from __future__ import annotations

import re
import socket
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from postgres import Cluster

from fmt_plugin.errors import StoreError
from fmt_plugin.storage import db, pg_schema
from fmt_plugin.storage.db import Migration
from fmt_plugin.storage.pg_schema import PgConnection, TenantSchema

LATEST = len(pg_schema.available_migrations())
SQLITE_TO_PG_TYPES = {"INTEGER": "bigint", "TEXT": "text", "BLOB": "bytea"}
SECRET = "n0t-in-the-text"


@pytest.fixture
def tenant(pg_database: str) -> Iterator[PgConnection]:
    """A connection to practice `cab_a`'s schema in a fresh database, not migrated."""
    with closing(pg_schema.connect(pg_database, "cab_a")) as conn:
        yield conn


@pytest.fixture
def migrated(tenant: PgConnection) -> PgConnection:
    pg_schema.migrate(tenant, "cab_a")
    return tenant


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """A real SQLite store at the latest schema, made the way Store.create makes one."""
    path = tmp_path / "store.db"
    with closing(db.connect(path, create=True)) as conn:
        db.migrate(conn, path)
        yield conn


def closed_port() -> int:
    """A port of 127.0.0.1 that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- migrations ---------------------------------------------------------------------------


def test_the_postgresql_migrations_have_the_numbers_and_names_of_the_sqlite_ones():
    """Both backends walk the same numbered steps."""
    sqlite = [(m.version, m.name) for m in db.available_migrations()]
    postgresql = [(m.version, m.name) for m in pg_schema.available_migrations()]
    assert postgresql == sqlite


def test_migrate_on_an_empty_database_applies_every_migration_and_records_it(tenant):
    """A new practice gets migrations 1 to 13, each with its schema_migrations row."""
    assert pg_schema.migrate(tenant, "cab_a") == list(range(1, LATEST + 1))
    rows = tenant.execute(
        "SELECT version, name, applied_at FROM schema_migrations ORDER BY version"
    ).fetchall()
    expected = [(m.version, m.name) for m in pg_schema.available_migrations()]
    assert [(version, name) for version, name, _ in rows] == expected
    assert all(re.match(r"\d{4}-\d\d-\d\dT.*\+00:00$", at) for _, _, at in rows)
    assert pg_schema.current_version(tenant) == LATEST == 13


def test_migrating_again_applies_nothing(migrated):
    """A second start on an up-to-date schema changes nothing."""
    assert pg_schema.migrate(migrated, "cab_a") == []
    count = migrated.execute("SELECT count(*) FROM schema_migrations").fetchone()
    assert count == (LATEST,)


def test_a_database_never_migrated_is_at_version_0(tenant):
    """Neither the schema nor its schema_migrations table exists yet."""
    assert pg_schema.current_version(tenant) == 0
    assert pg_schema.check_not_newer(tenant, "test") == 0


def test_the_tables_are_created_in_the_practice_schema_only(migrated):
    """Nothing lands in `public`: the schema is chosen by search_path alone."""
    assert migrated.execute("SHOW search_path").fetchone() == ("cab_a",)
    public = migrated.execute(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public'"
    ).fetchone()
    assert public == (0,)


def test_instances_migrating_a_new_schema_at_once_apply_each_migration_once(
    pg_database,
):
    """Four connections racing on a new practice: every step applied by exactly one."""
    racers = 4
    start = threading.Barrier(racers)
    applied: list[list[int]] = []
    failures: list[BaseException] = []

    def run() -> None:
        with closing(pg_schema.connect(pg_database, "cab_a")) as conn:
            start.wait(timeout=10)
            try:
                applied.append(pg_schema.migrate(conn, "cab_a"))
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert sorted(v for versions in applied for v in versions) == list(
        range(1, LATEST + 1)
    )
    with closing(pg_schema.connect(pg_database, "cab_a")) as conn:
        assert pg_schema.current_version(conn) == LATEST
        rows = conn.execute("SELECT count(*) FROM schema_migrations").fetchone()
        assert rows == (LATEST,)


def test_a_schema_newer_than_the_code_is_refused(migrated):
    """schema_migrations at 14 while the code knows 13: StoreError naming both."""
    migrated.execute(
        "INSERT INTO schema_migrations (version, name, applied_at)"
        " VALUES (14, 'future', '2030-01-01T00:00:00+00:00')"
    )
    newer = r"schéma 14, plus récent que ce logiciel \(schéma 13\)"
    with pytest.raises(StoreError, match=newer):
        pg_schema.check_not_newer(migrated, "cab_a")
    with pytest.raises(StoreError, match=newer):
        pg_schema.migrate(migrated, "cab_a")


def test_a_failing_migration_leaves_the_version_unchanged(tenant, monkeypatch):
    """A broken third step rolls back whole: version 2, none of its statements kept."""
    every = pg_schema.available_migrations()
    broken = Migration(
        3, "broken", "CREATE TABLE half_done (x bigint); SELECT * FROM no_such_table;"
    )
    monkeypatch.setattr(pg_schema, "available_migrations", lambda: [*every[:2], broken])
    with pytest.raises(StoreError, match="0003_broken") as failed:
        pg_schema.migrate(tenant, "cab_a")
    assert "no_such_table" in str(failed.value)
    assert pg_schema.current_version(tenant) == 2
    assert tenant.execute("SELECT to_regclass('half_done')").fetchone() == (None,)


def test_the_numbering_of_a_migrations_folder_must_have_no_gap(tmp_path):
    """0001 then 0003 is an installation problem, whichever backend reads it."""
    (tmp_path / "0001_first.sql").write_text("SELECT 1;", encoding="utf-8")
    (tmp_path / "0003_third.sql").write_text("SELECT 1;", encoding="utf-8")
    with pytest.raises(StoreError, match="mal numérotées"):
        db.migrations_in(tmp_path)


# --- the same schema as SQLite ------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """What must agree between the backends, per table."""

    columns: dict[str, list[tuple[str, str, bool, str | None]]]
    uniques: dict[str, set[tuple[str, ...]]]
    foreign_keys: dict[str, set[tuple[tuple[str, ...], str, tuple[str, ...]]]]
    indexes: dict[str, tuple[str, tuple[str, ...], bool, bool]]
    triggers: set[tuple[str, str]]


def sqlite_shape(conn: sqlite3.Connection) -> Shape:
    tables = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            " AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    columns, uniques, foreign_keys = {}, {}, {}
    indexes: dict[str, tuple[str, tuple[str, ...], bool, bool]] = {}
    for table in tables:
        info = conn.execute(f"PRAGMA table_info({table})").fetchall()
        # A primary key column holds no NULL on PostgreSQL; SQLite's INTEGER PRIMARY KEY
        # cannot either, and our code never stores NULL in its TEXT ones (a legacy quirk
        # lets SQLite accept it), so a key column counts as NOT NULL.
        columns[table] = [
            (name, SQLITE_TO_PG_TYPES[kind], bool(notnull or pk), dflt)
            for _, name, kind, notnull, dflt, pk in info
        ]
        key = tuple(name for *_, name in sorted((r[5], r[1]) for r in info if r[5]))
        uniques[table] = {key} if key else set()
        for _, name, unique, origin, partial in conn.execute(
            f"PRAGMA index_list({table})"
        ):
            cols = tuple(r[2] for r in conn.execute(f"PRAGMA index_info({name})"))
            if unique:
                uniques[table].add(cols)
            if origin == "c":
                indexes[name] = (table, cols, bool(unique), bool(partial))
        fks: dict[int, list[tuple[str, str, str]]] = {}
        for fk_id, _, target, source, to, *_ in conn.execute(
            f"PRAGMA foreign_key_list({table})"
        ):
            fks.setdefault(fk_id, []).append((source, target, to))
        foreign_keys[table] = {
            (tuple(s for s, _, _ in fk), fk[0][1], tuple(t for _, _, t in fk))
            for fk in fks.values()
        }
    triggers = set(
        conn.execute("SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'")
    )
    return Shape(columns, uniques, foreign_keys, indexes, triggers)


PG_INDEXES = """
SELECT t.relname, x.relname, i.indisunique, i.indpred IS NOT NULL,
       EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid),
       ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY AS u(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = u.attnum
             ORDER BY u.ord)
FROM pg_index i
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_class x ON x.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = %s
"""

PG_FOREIGN_KEYS = """
SELECT t.relname, r.relname,
       ARRAY(SELECT a.attname FROM unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum
             ORDER BY u.ord),
       ARRAY(SELECT a.attname FROM unnest(k.confkey) WITH ORDINALITY AS u(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.attnum
             ORDER BY u.ord)
FROM pg_constraint k
JOIN pg_class t ON t.oid = k.conrelid
JOIN pg_class r ON r.oid = k.confrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = %s AND k.contype = 'f'
"""


def pg_shape(conn: PgConnection, schema: str) -> Shape:
    columns: dict[str, list[tuple[str, str, bool, str | None]]] = {}
    for table, name, kind, nullable, default in conn.execute(
        "SELECT c.table_name, c.column_name, c.data_type, c.is_nullable,"
        " c.column_default FROM information_schema.columns c"
        " JOIN information_schema.tables t USING (table_schema, table_name)"
        " WHERE c.table_schema = %s AND t.table_type = 'BASE TABLE'"
        " ORDER BY c.table_name, c.ordinal_position",
        (schema,),
    ):
        # '[]'::text is the SQLite default '[]'; the rest of the casts carry no meaning.
        plain = re.sub(r"::[a-z ]+$", "", default) if default is not None else None
        columns.setdefault(table, []).append((name, kind, nullable == "NO", plain))
    uniques: dict[str, set[tuple[str, ...]]] = {table: set() for table in columns}
    indexes = {}
    for table, name, unique, partial, constraint, cols in conn.execute(
        PG_INDEXES, (schema,)
    ):
        if unique:
            uniques[table].add(tuple(cols))
        if not constraint:
            indexes[name] = (table, tuple(cols), unique, partial)
    foreign_keys: dict[str, set[tuple[tuple[str, ...], str, tuple[str, ...]]]] = {
        table: set() for table in columns
    }
    for table, target, source, to in conn.execute(PG_FOREIGN_KEYS, (schema,)):
        foreign_keys[table].add((tuple(source), target, tuple(to)))
    triggers = set(
        conn.execute(
            "SELECT DISTINCT trigger_name, event_object_table"
            " FROM information_schema.triggers WHERE trigger_schema = %s",
            (schema,),
        )
    )
    return Shape(columns, uniques, foreign_keys, indexes, triggers)


def test_every_table_has_the_sqlite_columns_in_the_same_order(migrated, sqlite_store):
    """Same tables; per column the same name, mapped type, NOT NULL-ness and default."""
    expected = sqlite_shape(sqlite_store).columns
    actual = pg_shape(migrated, "cab_a").columns
    assert sorted(actual) == sorted(expected)
    for table, columns in expected.items():
        assert actual[table] == columns, table


def test_every_table_has_the_sqlite_primary_and_unique_keys(migrated, sqlite_store):
    """The column sets that must be unique agree, so ON CONFLICT targets exist on both."""
    assert pg_shape(migrated, "cab_a").uniques == sqlite_shape(sqlite_store).uniques


def test_every_table_has_the_sqlite_foreign_keys(migrated, sqlite_store):
    """Same references, column for column."""
    expected = sqlite_shape(sqlite_store).foreign_keys
    assert pg_shape(migrated, "cab_a").foreign_keys == expected


def test_the_named_indexes_are_the_sqlite_ones(migrated, sqlite_store):
    """Same names, tables, columns in order, uniqueness and partialness."""
    assert pg_shape(migrated, "cab_a").indexes == sqlite_shape(sqlite_store).indexes


def test_the_triggers_are_the_sqlite_ones(migrated, sqlite_store):
    """The roster counter's three triggers, under their SQLite names."""
    assert pg_shape(migrated, "cab_a").triggers == sqlite_shape(sqlite_store).triggers


def test_the_checks_hold_on_postgresql_too(migrated):
    """A value a SQLite CHECK refuses is refused here (one per table that has checks)."""
    refused = [
        "INSERT INTO patients (patient_id, identity, active) VALUES ('p', '\\x00', 2)",
        "INSERT INTO audit_head (id) VALUES (2)",
        "INSERT INTO health_probe (id, written_at) VALUES (2, 'now')",
        (
            "INSERT INTO user_accounts (name, role, password_hash, created_at)"
            " VALUES ('x', 'root', 'h', 'now')"
        ),
    ]
    for statement in refused:
        with pytest.raises(psycopg.errors.CheckViolation), migrated.transaction():
            migrated.execute(statement)


# --- data ---------------------------------------------------------------------------------


def test_ciphertext_bytes_round_trip_through_bytea_unchanged(migrated):
    """NUL, high bytes and every other byte value come back exactly as written."""
    ciphertext = b"\x00\x01fmt\x00" + bytes(range(256)) + b"\xff\xfe\x00"
    migrated.execute(
        "INSERT INTO patients (patient_id, ins_index, identity) VALUES ('p1', %s, %s)",
        (ciphertext[:32], ciphertext),
    )
    row = migrated.execute(
        "SELECT ins_index, identity FROM patients WHERE patient_id = 'p1'"
    ).fetchone()
    assert row == (ciphertext[:32], ciphertext)
    assert type(row[1]) is bytes


@contextmanager
def two_practices(database: str) -> Iterator[tuple[PgConnection, PgConnection]]:
    """Connections to the migrated schemas of practices cab_a and cab_b of one database."""
    with (
        closing(pg_schema.connect(database, "cab_a")) as a,
        closing(pg_schema.connect(database, "cab_b")) as b,
    ):
        pg_schema.migrate(a, "cab_a")
        pg_schema.migrate(b, "cab_b")
        yield a, b


def test_two_practices_in_one_database_do_not_see_each_other(pg_database):
    """A patient of cab_a is not in cab_b's roster, and cab_b's counter did not move."""
    with two_practices(pg_database) as (a, b):
        a.execute("INSERT INTO patients (patient_id, identity) VALUES ('p1', '\\x01')")
        assert a.execute("SELECT count(*) FROM patients").fetchone() == (1,)
        assert b.execute("SELECT count(*) FROM patients").fetchone() == (0,)
        assert b.execute("SELECT revision FROM table_revisions").fetchone() == (0,)


def test_a_practice_roster_counter_moves_whoever_writes_its_patients(pg_database):
    """A write from a session set on another practice moves cab_a's counter, not its own."""
    with two_practices(pg_database) as (a, b):
        b.execute(
            "INSERT INTO cab_a.patients (patient_id, identity) VALUES ('p1', '\\x01')"
        )
        assert a.execute("SELECT revision FROM table_revisions").fetchone() == (1,)
        assert b.execute("SELECT revision FROM table_revisions").fetchone() == (0,)


# --- schema names -------------------------------------------------------------------------

BAD_NAMES = [
    "",
    "Cab_a",
    "1cab",
    "_cab",
    "cab-a",
    "cab a",
    "café",
    "pg_cab",
    "a" * 64,
    'cab"; DROP SCHEMA public; --',
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_bad_schema_name_is_refused_before_any_connection(name):
    """The name is checked first: no server answers here, yet the error is the name's."""
    dsn = f"host=127.0.0.1 port={closed_port()} user=postgres"
    with pytest.raises(
        StoreError, match="refusé : il faut une lettre minuscule"
    ) as bad:
        pg_schema.connect(dsn, name)
    assert f"« {name} »" in str(bad.value)


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_bad_schema_name_is_refused_before_migrate_runs_any_sql(tenant, name):
    """On a closed connection, any SQL would raise psycopg's error, not ours."""
    tenant.close()
    with pytest.raises(StoreError, match="refusé"):
        pg_schema.migrate(tenant, name)


@pytest.mark.parametrize("name", ["a", "a" * 63, "cab_01", "pgcab", "cabinet_du_port"])
def test_a_good_schema_name_is_accepted(name):
    """Up to 63 characters (PostgreSQL's limit), digits and underscores after a letter."""
    assert TenantSchema(name).name == name


# --- connection failures ------------------------------------------------------------------


def test_a_wrong_password_gives_a_store_error_without_the_password(
    password_cluster: Cluster,
):
    """The server refuses the login; the message says so and never quotes the password."""
    dsn = psycopg.conninfo.make_conninfo(password_cluster.dsn, password=SECRET)
    with pytest.raises(StoreError, match="connexion impossible") as refused:
        pg_schema.connect(dsn, "cab_a")
    assert "password authentication failed" in str(refused.value)
    assert SECRET not in str(refused.value)
    assert refused.value.__cause__ is None


def test_the_right_password_connects_to_a_server_that_checks_it(
    password_cluster: Cluster,
):
    """The counterpart of the test above: the cluster does accept its own password."""
    with closing(pg_schema.connect(password_cluster.dsn, "cab_a")) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


@pytest.mark.parametrize(
    "dsn",
    [
        "host=127.0.0.1 port={port} user=fmt password=" + SECRET,
        "postgresql://fmt:" + SECRET + "@127.0.0.1:{port}/fmt",
    ],
)
def test_an_unreachable_server_gives_a_store_error_without_the_password(dsn):
    """Nothing listens on the port: StoreError, the reason kept, the password not."""
    with pytest.raises(StoreError, match="connexion impossible") as refused:
        pg_schema.connect(dsn.format(port=closed_port()), "cab_a")
    assert "Connection refused" in str(refused.value)
    assert SECRET not in str(refused.value)


@pytest.mark.parametrize(
    "dsn",
    [
        # libpq quotes this whole URI in its error, password included.
        "postgresql://fmt:" + SECRET + "@[::1",
        "host=127.0.0.1 password=" + SECRET + " port",
        "host=127.0.0.1 password='" + SECRET,
    ],
)
def test_a_malformed_dsn_gives_a_store_error_without_the_password(dsn):
    """libpq's syntax errors may quote the DSN: the message does not."""
    with pytest.raises(StoreError, match="connexion impossible") as refused:
        pg_schema.connect(dsn, "cab_a")
    assert SECRET not in str(refused.value)


def test_a_dsn_without_a_connect_timeout_waits_ten_seconds_at_most():
    options = pg_schema.connection_options("host=127.0.0.1 user=postgres")
    assert options == {"connect_timeout": pg_schema.DEFAULT_CONNECT_TIMEOUT_S}
    assert pg_schema.DEFAULT_CONNECT_TIMEOUT_S == 10


def test_a_dsn_with_its_own_connect_timeout_keeps_it():
    assert pg_schema.connection_options("host=127.0.0.1 connect_timeout=3") == {}
    assert pg_schema.connection_options("postgresql://h/db?connect_timeout=3") == {}
