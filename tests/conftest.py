"""Shared fixtures: the public scenario, installations made by `init`, the CLI, key rings and stores."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest

from fmt_plugin.storage import KeyRing, generate_key_file

PUBLIC_SCENARIO = Path(__file__).parent / "data" / "public_scenario"

# The dashboard's fixtures (the demo practice served by the real service, and Chromium),
# a real PostgreSQL server with a fresh database per test, and the store on both backends.
pytest_plugins = ["dashboard_service", "postgres", "store_backends"]


@dataclass(frozen=True)
class CliResult:
    """What a CLI run printed and returned."""

    returncode: int
    stdout: str
    stderr: str


RunCli = Callable[..., CliResult]


@pytest.fixture
def public_scenario() -> Path:
    """The public acceptance scenario (roster, acts, HL7 messages, expected statuses)."""
    return PUBLIC_SCENARIO


def cli(cwd: Path, *args: str | Path, env: dict[str, str] | None = None) -> CliResult:
    """Run `python -m fmt_plugin ARGS` in a subprocess from `cwd`, as a user would."""
    # Neither the developer's configuration nor their terminal width (tables fit COLUMNS).
    environ = {
        k: v for k, v in os.environ.items() if k not in ("FMT_CONFIG", "COLUMNS")
    }
    environ.update(env or {})
    completed = subprocess.run(
        [sys.executable, "-m", "fmt_plugin", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environ,
        timeout=120,
        check=False,
    )
    return CliResult(completed.returncode, completed.stdout, completed.stderr)


@pytest.fixture
def run_cli(tmp_path: Path) -> RunCli:
    """Run `python -m fmt_plugin ARGS` in a subprocess, as a user would, from tmp_path."""

    def run(*args: str | Path, env: dict[str, str] | None = None) -> CliResult:
        return cli(tmp_path, *args, env=env)

    return run


@pytest.fixture
def installation(tmp_path: Path, public_scenario: Path) -> Path:
    """A fresh installation on the public scenario's CSV files; returns its fmt.toml."""
    from fmt_plugin.scaffold import InitOptions, init_installation

    return init_installation(
        InitOptions(
            directory=tmp_path / "inst",
            roster=public_scenario / "roster.csv",
            acts=public_scenario / "acts.csv",
        ),
        actor="test",
    )


@pytest.fixture
def synced_installation(installation: Path, run_cli: RunCli) -> Path:
    """The public scenario's installation (made by `init`), its roster synced; its fmt.toml."""
    result = run_cli("--config", installation, "sync")
    assert result.returncode == 0, result.stderr
    return installation


#: The practice decision tests record: an exclusion for Q05, dated, with its author.
DECIDED = "2026-03-15"
EXCLUSION = (
    "override", "Q05", "dep_sein", "--kind", "exclusion",
    "--reason", "antécédent de mastectomie", "--author", "Dr Martin",
    "--recorded-on", DECIDED,
)  # fmt: skip


def record_exclusion(run_cli: RunCli, config: Path) -> None:
    """Record EXCLUSION through the CLI (an audited change, one more entry in the chain)."""
    result = run_cli("--config", config, *EXCLUSION)
    assert result.returncode == 0, result.stderr


@pytest.fixture
def scenario_config(run_cli: RunCli, tmp_path: Path, public_scenario: Path) -> Path:
    """`fmt-plugin init` on the public scenario's roster and acts, as a user runs it.

    The roster is synced and the file outbox configured (`outbox/` beside fmt.toml).
    """
    result = run_cli(
        "init",
        tmp_path / "inst",
        "--roster",
        public_scenario / "roster.csv",
        "--acts",
        public_scenario / "acts.csv",
    )
    assert result.returncode == 0, result.stderr
    return tmp_path / "inst" / "fmt.toml"


@pytest.fixture
def keyring(tmp_path: Path) -> KeyRing:
    """A freshly generated key file's key ring."""
    return generate_key_file(tmp_path / "keys.json")


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """Where a test's store file goes (its folder does not exist yet)."""
    return tmp_path / "data" / "fmt.sqlite"


def raw(path: Path) -> closing[sqlite3.Connection]:
    """A plain sqlite3 connection, as an attacker or a curious admin would use."""
    return closing(sqlite3.connect(path, isolation_level=None))


#: Holds the installation lock of the store `argv[1]` as `serve` would, until stdin closes.
_HOLD_LOCK = """
import sys
from pathlib import Path
from fmt_plugin.installation_lock import InstallationLock
lock = InstallationLock.acquire(Path(sys.argv[1]), purpose="serve")
print("held", flush=True)
sys.stdin.read()
"""


def start_lock_holder(store_path: Path) -> subprocess.Popen[str]:
    """Another process holding `store_path`'s installation lock, once this returns.

    Closing its stdin (`communicate("")`) makes it exit; killing it frees the lock too.
    """
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(store_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    return proc
