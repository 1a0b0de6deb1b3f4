"""A real PostgreSQL server for the tests, and a fresh database for each test.

`postgres_dsn` (one per test worker) is, in order: `FMT_TEST_POSTGRES_DSN`; the server at
127.0.0.1:5432 as user postgres (our development and CI machines); a throwaway cluster
started with the installed `initdb`/`pg_ctl` in a temporary folder on a free port, stopped
at the end. With none of them the tests skip with the reason, unless
`FMT_REQUIRE_POSTGRES=1` (set by .ci/run), where they fail instead: CI never skips them.

`pg_database` gives each test a database of its own, dropped afterwards even when the test
failed, so tests run in parallel under xdist without seeing each other's schemas.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

ENV_DSN = "FMT_TEST_POSTGRES_DSN"
ENV_REQUIRE = "FMT_REQUIRE_POSTGRES"
LOCAL_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
CONNECT_TIMEOUT_S = 3
START_TIMEOUT_S = 60
SUPERUSER = "postgres"
CLUSTER_PASSWORD = "s3cr3t-Pw"  # a throwaway cluster's, not a real secret


def unavailable(reason: str) -> NoReturn:
    """Skip the test with `reason`, or fail it when CI requires PostgreSQL."""
    message = f"PostgreSQL tests not run: {reason}"
    if os.environ.get(ENV_REQUIRE) == "1":
        pytest.fail(f"{message} ({ENV_REQUIRE}=1)", pytrace=False)
    pytest.skip(message)


def why_not_answering(dsn: str) -> str | None:
    """None when a server answers at `dsn`, else psycopg's reason."""
    try:
        with psycopg.connect(dsn, connect_timeout=CONNECT_TIMEOUT_S):
            return None
    except psycopg.Error as exc:
        return " ".join(str(exc).split())


def find_bindir() -> Path | None:
    """The folder of `initdb` and `pg_ctl`: `pg_config --bindir`, else the newest Debian one."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        out = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, check=False
        )
        candidates.append(Path(out.stdout.strip()))
    versions = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(versions, key=_major_version, reverse=True)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def _major_version(bindir: Path) -> int:
    name = bindir.parent.name
    return int(name) if name.isdigit() else 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cluster:
    """A throwaway PostgreSQL cluster: its folder, its port, and how to reach it."""

    bindir: Path
    folder: Path
    port: int
    password: str | None

    @property
    def dsn(self) -> str:
        params: dict[str, str | int] = {
            "host": "127.0.0.1",
            "port": self.port,
            "user": SUPERUSER,
        }
        if self.password is not None:
            params["password"] = self.password
        return make_conninfo("", dbname="postgres", **params)

    def stop(self) -> None:
        """Stop the server at once (its data is thrown away) and delete its folder."""
        data = self.folder / "data"
        _run(self.bindir / "pg_ctl", f"--pgdata={data}", "--mode=immediate", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


def start_cluster(bindir: Path, *, password: str | None = None) -> Cluster:
    """initdb and start a cluster on a free port of 127.0.0.1.

    Trust authentication, or scram-sha-256 with `password` for the superuser. initdb refuses
    to run as root, so as root (CI containers) the server runs as the `postgres` account the
    Debian package creates. fsync is off: the cluster does not outlive the test run.
    """
    folder = Path(tempfile.mkdtemp(prefix="fmt-pg-"))
    try:
        _initdb(bindir, folder, password)
        return Cluster(bindir, folder, _start(bindir, folder), password)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _initdb(bindir: Path, folder: Path, password: str | None) -> None:
    pwfile = folder / "pwfile"
    command: list[str | Path] = [
        bindir / "initdb",
        f"--pgdata={folder / 'data'}",
        "--encoding=UTF8",
    ]
    command += [f"--username={SUPERUSER}", "--locale=C", "--no-sync"]
    if password is None:
        command.append("--auth=trust")
    else:
        pwfile.write_text(password + "\n", encoding="utf-8")
        command += ["--auth=scram-sha-256", f"--pwfile={pwfile}"]
    if os.geteuid() == 0:
        for path in (folder, pwfile):
            if path.exists():
                shutil.chown(path, user=SUPERUSER)
    try:
        _run(*command)
    finally:
        pwfile.unlink(missing_ok=True)


def _start(bindir: Path, folder: Path) -> int:
    """Start the server on a free port and return it; a port taken meanwhile is retried."""
    for attempt in range(3):
        port = free_port()
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off"
        try:
            _run(
                bindir / "pg_ctl",
                f"--pgdata={folder / 'data'}",
                f"--log={folder / 'log'}",
                "--wait",
                f"--timeout={START_TIMEOUT_S}",
                f"--options={options}",
                "start",
            )
        except RuntimeError as exc:
            if attempt == 2:
                log = folder / "log"
                text = log.read_text(errors="replace") if log.exists() else ""
                raise RuntimeError(f"{exc}\nserver log:\n{text}") from exc
            continue
        return port
    raise AssertionError("unreachable: the last attempt returns or raises")


def _run(*command: str | Path) -> None:
    args = [str(part) for part in command]
    if os.geteuid() == 0:
        args = ["runuser", "-u", SUPERUSER, "--", *args]
    done = subprocess.run(
        args, capture_output=True, text=True, timeout=START_TIMEOUT_S + 30, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stdout}{done.stderr}")


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """A superuser DSN of a running server (see the module docstring for which one)."""
    explicit = os.environ.get(ENV_DSN)
    if explicit:
        reason = why_not_answering(explicit)
        if reason is not None:
            pytest.fail(f"{ENV_DSN} does not answer: {reason}", pytrace=False)
        yield explicit
        return
    local = why_not_answering(LOCAL_DSN)
    if local is None:
        yield LOCAL_DSN
        return
    why = f"no server at 127.0.0.1:5432 ({local}) and {ENV_DSN} not set"
    with throwaway_cluster(why) as cluster:
        yield cluster.dsn


@pytest.fixture(scope="session")
def password_cluster() -> Iterator[Cluster]:
    """A throwaway cluster that checks passwords (the shared server trusts everyone)."""
    with throwaway_cluster(
        "a server that checks passwords is needed", password=CLUSTER_PASSWORD
    ) as cluster:
        yield cluster


@contextmanager
def throwaway_cluster(why: str, *, password: str | None = None) -> Iterator[Cluster]:
    """A cluster for the block, stopped after it; skip (or fail) without the binaries."""
    bindir = find_bindir()
    if bindir is None:
        unavailable(
            f"{why}, and no initdb/pg_ctl installed (pg_config --bindir,"
            " /usr/lib/postgresql/*/bin): install postgresql"
        )
    try:
        cluster = start_cluster(bindir, password=password)
    except RuntimeError as exc:
        unavailable(f"{why}, and a throwaway cluster did not start: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_database(postgres_dsn: str) -> Iterator[str]:
    """The DSN of a new, empty database, dropped after the test whatever its outcome."""
    name = f"fmt_test_{uuid.uuid4().hex[:16]}"
    with admin(postgres_dsn) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_conninfo(postgres_dsn, dbname=name)
    finally:
        with admin(postgres_dsn) as conn:
            # FORCE: a connection the failed test left open must not keep the database.
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)
                )
            )


def admin(dsn: str) -> psycopg.Connection[tuple[object, ...]]:
    """An autocommit connection (CREATE/DROP DATABASE cannot run in a transaction)."""
    return psycopg.connect(dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
