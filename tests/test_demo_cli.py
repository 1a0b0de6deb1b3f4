"""`fmt-plugin demo DIR --once` end to end, twice, as CI and a new user run it."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import urllib.request
from contextlib import closing
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from conftest import CliResult, cli

from fmt_plugin.adapters.demo import config_block
from fmt_plugin.demo.practice import DemoSettings
from fmt_plugin.rules.pack import load_default_pack
from fmt_plugin.scaffold import InitOptions, init_installation

AS_OF = "2026-03-15"
DEMO_ARGS = ("--once", "--as-of", AS_OF, "--mllp-port", "0", "--http-port", "0")
NUMBER = r"(\d[\d\u202f]*)"

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Run:
    """One demo run: what it printed, and the store's counts right after it."""

    result: CliResult
    messages: int
    events: int
    eml_files: int


@dataclass(frozen=True)
class TwoRuns:
    folder: Path
    first: Run
    second: Run


def run_demo(cwd: Path, folder: Path) -> Run:
    result = cli(cwd, "demo", folder, *DEMO_ARGS)
    assert result.returncode == 0, result.stdout + result.stderr
    with closing(sqlite3.connect(folder / "fmt.sqlite3")) as conn:
        messages = conn.execute("SELECT count(*) FROM hl7_messages").fetchone()[0]
        events = conn.execute("SELECT sum(event_count) FROM hl7_messages").fetchone()[0]
    return Run(result, messages, events, len(list((folder / "outbox").glob("*.eml"))))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> TwoRuns:
    """The demo run twice on a fresh folder (the second reuses the installation)."""
    cwd = tmp_path_factory.mktemp("demo")
    folder = cwd / "demo-fmt"
    return TwoRuns(folder, run_demo(cwd, folder), run_demo(cwd, folder))


def count(text: str) -> int:
    return int(text.replace("\u202f", ""))


def summary_rates(stdout: str) -> dict[str, dict[str, int]]:
    """The indicator table of the summary, by indicator id."""
    pack = load_default_pack()
    rates = {}
    for indicator in pack.indicators:
        pattern = rf"^  {re.escape(indicator.label)}\s+" + r"\s+".join([NUMBER] * 4)
        match = re.search(pattern, stdout, flags=re.MULTILINE)
        assert match, f"{indicator.id} absent from the summary"
        fait, a_verifier, a_venir, exclu = map(count, match.groups())
        rates[indicator.id] = {
            "fait": fait,
            "a_verifier": a_verifier,
            "a_venir": a_venir,
            "exclu": exclu,
        }
    return rates


def recalls_written(stdout: str) -> tuple[int, int]:
    """(written this run, .eml files in the folder) as the summary says them."""
    match = re.search(
        rf"{NUMBER} écrits dans .*outbox \({NUMBER} fichiers \.eml au total\)", stdout
    )
    assert match, stdout
    return count(match.group(1)), count(match.group(2))


def test_the_demo_configuration_is_its_owners_only(runs: TwoRuns):
    """The demo's fmt.toml is created 0600, as `init`'s is."""
    mode = (runs.folder / "fmt.toml").stat().st_mode
    assert mode & 0o777 == 0o600


def test_summary_matches_the_report(runs: TwoRuns):
    """The summary's 15 indicators have the counts `report --format json` gives."""
    report = cli(
        runs.folder.parent,
        "--config",
        runs.folder / "fmt.toml",
        "report",
        "--as-of",
        AS_OF,
        "--format",
        "json",
    )
    assert report.returncode == 0, report.stderr
    expected = {
        # The summary shows the four status counts (not the taux, nor the rattrapage).
        indicator: {k: rate[k] for k in ("fait", "a_verifier", "a_venir", "exclu")}
        for indicator, rate in json.loads(report.stdout)["rates"].items()
    }
    assert summary_rates(runs.first.result.stdout) == expected
    assert len(expected) == 15


def test_every_message_is_acknowledged(runs: TwoRuns):
    """AA + AE + AR add up to the messages sent; some AE (strangers), no AR."""
    stdout = runs.first.result.stdout
    sent = re.search(rf"Messages HL7 : {NUMBER} envoyés", stdout)
    acks = re.search(rf"{NUMBER} AA, {NUMBER} AE, {NUMBER} AR", stdout)
    assert sent, stdout
    assert acks, stdout
    aa, ae, ar = map(count, acks.groups())
    assert aa + ae + ar == count(sent.group(1))
    assert ae > 0
    assert ar == 0
    assert "sans réponse" not in stdout


def test_recalls_written_to_the_outbox(runs: TwoRuns):
    """As many .eml files as the summary says were written, and some were."""
    written, total = recalls_written(runs.first.result.stdout)
    assert written > 0
    assert written == total == runs.first.eml_files


def test_installation_is_anchored_to_its_creation_date(runs: TwoRuns):
    """fmt.toml holds the demo table with the history's reference date."""
    config = (runs.folder / "fmt.toml").read_text(encoding="utf-8")
    assert "[adapters.demo]" in config
    assert f"reference_date = {AS_OF}" in config


def test_second_run_writes_no_new_recall(runs: TwoRuns):
    """Run again, the demo writes no recall: none new, the same files."""
    written, total = recalls_written(runs.second.result.stdout)
    assert written == 0
    assert total == runs.second.eml_files == runs.first.eml_files


def test_second_run_stores_no_duplicate(runs: TwoRuns):
    """Run again, every message is a duplicate: no new message, no new event."""
    assert "reprise" in runs.second.result.stdout
    assert re.search(r"\n  0 intégrés", runs.second.result.stdout)
    assert (runs.second.messages, runs.second.events) == (
        runs.first.messages,
        runs.first.events,
    )
    assert summary_rates(runs.second.result.stdout) == summary_rates(
        runs.first.result.stdout
    )


def test_demo_refuses_a_folder_that_is_not_a_demo(scenario_config: Path):
    """On an installation without `[adapters.demo]`, the demo stops, exit 2, naming it."""
    result = cli(
        scenario_config.parent.parent, "demo", scenario_config.parent, "--once"
    )
    assert result.returncode == 2
    assert "adapters.demo" in result.stderr


def test_serves_until_interrupted(tmp_path: Path):
    """Without --once, the demo keeps serving after its summary; Ctrl-C stops it, exit 0.

    Meanwhile its dashboard answers at the address printed, with the demo logins printed.
    """
    folder = tmp_path / "small-demo"
    small = DemoSettings(reference_date=date(2026, 3, 15), patients=60)
    init_installation(
        InitOptions(directory=folder, adapter_block=config_block(small)), actor="test"
    )
    env = {k: v for k, v in os.environ.items() if k != "FMT_CONFIG"}
    process = subprocess.Popen(
        [sys.executable, "-m", "fmt_plugin", "demo", str(folder), *DEMO_ARGS[1:]],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if "Ctrl-C" in line:
                break
        assert "continue d'écouter" in lines[-1], "".join(lines)
        printed = "".join(lines)
        address = re.search(
            r"Tableau de bord : ouvrez (http://127\.0\.0\.1:\d+/)", printed
        )
        assert address, printed
        logins = re.findall(r"identifiant « (\w+) », mot de passe « (\S+) »", printed)
        assert [name for name, _ in logins] == ["docteur", "assistante", "admin"]
        kept = (folder / "comptes-demo.txt").read_text("utf-8")
        assert all(
            f"{name}\t" in kept and password in kept for name, password in logins
        )
        assert oct((folder / "comptes-demo.txt").stat().st_mode & 0o777) == "0o600"
        with urllib.request.urlopen(address.group(1) + "connexion", timeout=10) as page:  # noqa: S310
            assert "Mot de passe" in page.read().decode("utf-8")
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
        assert process.returncode == 0
        assert rest.strip().endswith("Service arrêté.")
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
