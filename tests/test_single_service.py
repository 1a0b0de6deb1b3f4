"""One service per installation: a second `serve` (or `demo`) refuses at once, changing nothing."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime
from pathlib import Path

import pytest
from service_process import Server, start_server

from fmt_plugin.errors import ExitStatus
from fmt_plugin.installation import open_installation
from fmt_plugin.recalls import jobs
from fmt_plugin.timezone import PARIS

#: A refusal takes the time Python needs to start; an old second service never returns.
REFUSAL_TIMEOUT_S = 30
MONDAY = datetime(2026, 3, 16, 9, 30, tzinfo=PARIS)


@pytest.fixture
def first(scenario_config: Path, tmp_path: Path) -> Iterator[Server]:
    """The installation's service, running."""
    running = start_server(scenario_config, tmp_path)
    yield running
    running.stop()


def fmt_plugin(cwd: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """`python -m fmt_plugin ARGS`; a hang past REFUSAL_TIMEOUT_S fails the test."""
    env = {k: v for k, v in os.environ.items() if k != "FMT_CONFIG"}
    return subprocess.run(
        [sys.executable, "-m", "fmt_plugin", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=REFUSAL_TIMEOUT_S,
        check=False,
    )


def second_serve(config: Path) -> subprocess.CompletedProcess[str]:
    return fmt_plugin(
        config.parent,
        "--config",
        config,
        "serve",
        "--mllp-port",
        "0",
        "--http-port",
        "0",
    )


def job_store_files(config: Path) -> dict[str, bytes]:
    """jobs.sqlite3 and its journal files, byte for byte."""
    return {
        path.name: path.read_bytes()
        for path in sorted(config.parent.glob("jobs.sqlite3*"))
    }


def recall_left_sending(config: Path) -> int:
    """A recall the running service is handing over: planned, queued, then `sending`.

    What the delivery job does (`mark_sending`, committed before the channel is called),
    done here because a real hand-over lasts milliseconds.
    """
    queued = jobs.run_planning(config, MONDAY)
    assert queued, "the scenario plans recalls on a Monday"
    with open_installation(config) as installation:
        installation.store.outbox.mark_sending(queued[0], channel="file", now=MONDAY)
    return queued[0]


def recall_state(config: Path, recall_id: int) -> str:
    with open_installation(config) as installation:
        entry = installation.store.outbox.get(recall_id)
    assert entry is not None
    return entry.state


def test_a_second_serve_exits_at_once_naming_the_first_ones_pid(
    first: Server, scenario_config: Path
) -> None:
    refused = second_serve(scenario_config)
    assert refused.returncode == ExitStatus.USAGE
    assert f"« serve » (pid {first.process.pid})" in refused.stderr
    assert "un seul service par installation" in refused.stderr
    assert refused.stderr.startswith("fmt-plugin : erreur : ")
    assert "Traceback" not in refused.stderr
    assert first.process.poll() is None  # the first serves on


def test_a_refused_second_serve_leaves_the_first_ones_recall_sending(
    first: Server, scenario_config: Path
) -> None:
    recall_id = recall_left_sending(scenario_config)
    refused = second_serve(scenario_config)
    assert refused.returncode == ExitStatus.USAGE, refused.stderr
    # Today's start-up recovery would have made it `uncertain`: never re-sent, by anyone.
    assert recall_state(scenario_config, recall_id) == "sending"


def test_a_refused_second_serve_leaves_the_job_store_and_the_outbox_untouched(
    first: Server, scenario_config: Path
) -> None:
    outbox = scenario_config.parent / "outbox"
    before = job_store_files(scenario_config)
    files_before = sorted(outbox.rglob("*")) if outbox.exists() else []
    refused = second_serve(scenario_config)
    assert refused.returncode == ExitStatus.USAGE, refused.stderr
    assert job_store_files(scenario_config) == before
    assert (sorted(outbox.rglob("*")) if outbox.exists() else []) == files_before


@pytest.mark.slow
def test_a_new_serve_starts_once_the_first_has_stopped(
    scenario_config: Path, tmp_path: Path
) -> None:
    first = start_server(scenario_config, tmp_path)
    assert first.stop() == 0
    second = start_server(scenario_config, tmp_path)
    try:
        url = second.status_url + "/health"
        with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310
            assert resp.status == 200
            assert json.load(resp)["etat"] == "ok"
    finally:
        assert second.stop() == 0


@pytest.mark.slow
def test_a_new_serve_starts_after_the_first_was_killed(
    scenario_config: Path, tmp_path: Path
) -> None:
    """No stale lock after a crash: the kernel freed it with the process."""
    first = start_server(scenario_config, tmp_path)
    first.stop(sig=9)
    second = start_server(scenario_config, tmp_path)
    assert second.stop() == 0


def patients_in(config: Path) -> int:
    with closing(sqlite3.connect(config.parent / "fmt.sqlite3")) as conn:
        (count,) = conn.execute("SELECT count(*) FROM patients").fetchone()
    return int(count)


@pytest.mark.slow
def test_a_demo_on_an_installation_in_service_is_refused_before_its_roster_sync(
    tmp_path: Path,
) -> None:
    from fmt_plugin.demo.run import prepare_installation

    config, _ = prepare_installation(tmp_path / "demo", MONDAY.date(), actor="test")
    running = start_server(config, tmp_path)
    try:
        refused = fmt_plugin(
            tmp_path,
            "demo",
            config.parent,
            "--once",
            "--mllp-port",
            "0",
            "--http-port",
            "0",
        )
        assert refused.returncode == ExitStatus.USAGE, refused.stderr
        assert f"« serve » (pid {running.process.pid})" in refused.stderr
        assert "Traceback" not in refused.stderr
        assert patients_in(config) == 0  # a demo that ran would have synced its roster
    finally:
        running.stop()
