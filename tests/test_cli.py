"""The `fmt-plugin` command as a user runs it: init, sync, check-config, audit verify, errors."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from fmt_plugin import __version__
from fmt_plugin.config import load_config


def init_args(public_scenario: Path, directory: str = "inst") -> list[str | Path]:
    return [
        "init",
        directory,
        "--roster",
        public_scenario / "roster.csv",
        "--acts",
        public_scenario / "acts.csv",
    ]


def test_version_is_printed(run_cli):
    """`fmt-plugin --version` prints the package version."""
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"fmt-plugin {__version__}"


def test_init_creates_config_key_and_store(run_cli, tmp_path, public_scenario):
    """init writes fmt.toml naming the CSV files, a 0600 key file and the store."""
    result = run_cli(*init_args(public_scenario))
    assert result.returncode == 0, result.stderr
    inst = tmp_path / "inst"
    assert stat.S_IMODE((inst / "fmt.key").stat().st_mode) == 0o600
    config = (inst / "fmt.toml").read_text(encoding="utf-8")
    assert "[adapters.csv_roster]" in config
    assert str(public_scenario / "roster.csv") in config
    assert (inst / "fmt.sqlite3").is_file()


def test_init_with_a_roster_loads_it_at_once(run_cli, tmp_path, public_scenario):
    """With --roster, init runs a first sync: the installation is usable straight away."""
    result = run_cli(*init_args(public_scenario))
    assert result.returncode == 0, result.stderr
    assert "8 ajoutés" in result.stdout
    with sqlite3.connect(tmp_path / "inst" / "fmt.sqlite3") as db:
        assert db.execute("select count(*) from patients").fetchone() == (8,)
    db.close()


def test_init_without_a_roster_creates_an_empty_store(run_cli, tmp_path):
    """Without --roster there is nothing to load: the store has no patient."""
    result = run_cli("init", "inst")
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(tmp_path / "inst" / "fmt.sqlite3") as db:
        assert db.execute("select count(*) from patients").fetchone() == (0,)
    db.close()


def test_init_refuses_to_overwrite_an_existing_key(run_cli, tmp_path, public_scenario):
    """A second init in the same folder fails and leaves the key file untouched."""
    assert run_cli(*init_args(public_scenario)).returncode == 0
    key = tmp_path / "inst" / "fmt.key"
    before = key.read_bytes()
    result = run_cli(*init_args(public_scenario))
    assert result.returncode == 2
    assert "fmt.key" in result.stderr
    assert "existe déjà" in result.stderr
    assert key.read_bytes() == before


def test_init_refuses_a_leftover_key_even_without_config(
    run_cli, tmp_path, public_scenario
):
    """A key file left alone in the folder (config deleted) is still never overwritten."""
    assert run_cli(*init_args(public_scenario)).returncode == 0
    (tmp_path / "inst" / "fmt.toml").unlink()
    (tmp_path / "inst" / "fmt.sqlite3").unlink()
    key = tmp_path / "inst" / "fmt.key"
    before = key.read_bytes()
    result = run_cli(*init_args(public_scenario))
    assert result.returncode == 2
    assert str(key) in result.stderr
    assert key.read_bytes() == before


def test_init_with_missing_roster_names_the_file(run_cli, tmp_path):
    """init --roster on a file that does not exist fails before writing anything."""
    result = run_cli("init", "inst", "--roster", "absent.csv")
    assert result.returncode == 2
    assert "absent.csv" in result.stderr
    assert not (tmp_path / "inst" / "fmt.key").exists()


def test_sync_loads_the_public_roster(run_cli, tmp_path, public_scenario):
    """sync reads the CSV export and stores its 8 patients; a second sync changes nothing."""
    run_cli("init", "inst")
    config = "inst/fmt.toml"
    with (tmp_path / config).open("a", encoding="utf-8") as out:
        out.write(
            f'[adapters.csv_roster]\nroster = "{public_scenario / "roster.csv"}"\n'
        )
    result = run_cli("--config", config, "sync", "--as-of", "2026-03-15")
    assert result.returncode == 0, result.stderr
    assert "8 patients" in result.stdout
    assert "8 ajoutés" in result.stdout
    again = run_cli("sync", "--config", config)
    assert "8 inchangés" in again.stdout


def test_sync_reports_bad_rows_with_file_and_line(run_cli, tmp_path, public_scenario):
    """A bad CSV row is reported with its file and line; the good rows are still loaded."""
    roster = tmp_path / "roster.csv"
    lines = (public_scenario / "roster.csv").read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace("1989-05-02", "1989-13-02")  # line 4: Q03's birth date
    roster.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run_cli("init", "inst", "--roster", roster)
    result = run_cli("--config", "inst/fmt.toml", "sync")
    assert result.returncode == 0
    assert "7 patients" in result.stdout
    assert f"{roster}, ligne 4" in result.stderr
    assert "date_naissance" in result.stderr
    assert "1989-13-02" not in result.stderr


def test_config_from_environment_variable(run_cli, tmp_path, public_scenario):
    """FMT_CONFIG stands in for --config."""
    run_cli(*init_args(public_scenario))
    result = run_cli(
        "check-config", env={"FMT_CONFIG": str(tmp_path / "inst/fmt.toml")}
    )
    assert result.returncode == 0, result.stderr
    assert "csv_roster" in result.stdout


def test_check_config_lists_adapters_and_store(run_cli, public_scenario):
    """check-config validates the installation and lists what it loaded."""
    run_cli(*init_args(public_scenario))
    run_cli("--config", "inst/fmt.toml", "sync")
    result = run_cli("--config", "inst/fmt.toml", "check-config")
    assert result.returncode == 0, result.stderr
    assert "8 patients actifs" in result.stdout
    for name in ("csv_roster", "code_systems", "patient_match"):
        assert name in result.stdout


def test_check_config_checks_the_recall_channels(run_cli, public_scenario):
    """check-config runs serve's pre-flight: the file outbox is checked and named."""
    run_cli(*init_args(public_scenario))
    result = run_cli("--config", "inst/fmt.toml", "check-config")
    assert result.returncode == 0, result.stderr
    assert "Canaux de rappel vérifiés : file" in result.stdout


def test_check_config_refuses_what_serve_would_refuse(
    run_cli, public_scenario, tmp_path
):
    """A job store in a missing folder fails check-config as it fails serve (exit 2)."""
    run_cli(*init_args(public_scenario))
    config = tmp_path / "inst" / "fmt.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace('jobstore = "jobs.sqlite3"', 'jobstore = "absent/jobs.sqlite3"'),
        encoding="utf-8",
    )
    result = run_cli("--config", config, "check-config")
    assert result.returncode == 2
    assert "recalls.jobstore" in result.stderr


def test_missing_config_option_is_a_usage_error(run_cli):
    """Without --config nor FMT_CONFIG the command exits 2 and says how to fix it."""
    result = run_cli("check-config")
    assert result.returncode == 2
    assert "FMT_CONFIG" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda t: t.replace("[logging]", "[logging]\nverbose = true"),
            "logging.verbose",
        ),
        (lambda t: t.replace('level = "INFO"', "level = 3"), "logging.level"),
        (
            lambda t: t.replace('key_file = "fmt.key"', 'key_file = "k.key"'),
            "store.key_file",
        ),
        (lambda t: t + "\n[adapters.csv_roster]\n", "line"),
        (lambda t: t.replace("roster = ", "rooster = "), "adapters.csv_roster.rooster"),
    ],
    ids=[
        "unknown-key",
        "wrong-type",
        "missing-key-file",
        "duplicate-table",
        "adapter-typo",
    ],
)
def test_bad_configuration_exits_2_naming_file_and_key(
    run_cli, tmp_path, public_scenario, edit, expected
):
    """Each kind of configuration mistake stops with one message, exit 2, no traceback."""
    run_cli(*init_args(public_scenario))
    config = tmp_path / "inst" / "fmt.toml"
    config.write_text(edit(config.read_text(encoding="utf-8")), encoding="utf-8")
    result = run_cli("--config", config, "check-config")
    assert result.returncode == 2
    assert str(config) in result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_key_file_readable_by_others_is_refused(run_cli, tmp_path, public_scenario):
    """A key file readable by the group is refused with the fix to apply."""
    run_cli(*init_args(public_scenario))
    key = tmp_path / "inst" / "fmt.key"
    key.chmod(0o640)
    result = run_cli("--config", "inst/fmt.toml", "check-config")
    assert result.returncode == 2
    assert str(key) in result.stderr
    assert "chmod 600" in result.stderr


def test_unreadable_key_file_is_refused(run_cli, tmp_path, public_scenario):
    """A corrupted key file stops the command with its path, exit 2."""
    run_cli(*init_args(public_scenario))
    key = tmp_path / "inst" / "fmt.key"
    key.write_text("not json")
    result = run_cli("--config", "inst/fmt.toml", "sync")
    assert result.returncode == 2
    assert str(key) in result.stderr
    assert "Traceback" not in result.stderr


def test_passphrase_protected_installation(run_cli, public_scenario):
    """init --passphrase-env seals the key file; commands unlock it from the variable."""
    env = {"FMT_PASS": "correct horse battery staple"}
    result = run_cli(
        *init_args(public_scenario), "--passphrase-env", "FMT_PASS", env=env
    )
    assert result.returncode == 0, result.stderr
    assert run_cli("--config", "inst/fmt.toml", "sync", env=env).returncode == 0
    wrong = run_cli("--config", "inst/fmt.toml", "sync", env={"FMT_PASS": "wrong"})
    assert wrong.returncode == 2
    assert "fmt.key" in wrong.stderr


def test_audit_verify_passes_then_detects_an_edited_row(
    run_cli, tmp_path, public_scenario
):
    """audit verify succeeds on a fresh log and names the first entry edited behind its back."""
    run_cli(*init_args(public_scenario))
    run_cli("--config", "inst/fmt.toml", "sync")
    ok = run_cli("--config", "inst/fmt.toml", "audit", "verify")
    assert ok.returncode == 0, ok.stderr
    assert "intègre" in ok.stdout
    with sqlite3.connect(tmp_path / "inst" / "fmt.sqlite3") as db:
        db.execute("update audit_log set actor = 'intrus' where seq = 3")
    db.close()
    broken = run_cli("--config", "inst/fmt.toml", "audit", "verify")
    assert broken.returncode == 1
    assert "n° 3" in broken.stdout


def test_python_dash_m_and_console_script_agree(tmp_path):
    """The installed console script runs the same CLI as `python -m fmt_plugin`."""
    script = shutil.which("fmt-plugin", path=os.path.dirname(sys.executable))
    assert script is not None
    out = subprocess.run(
        [script, "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"fmt-plugin {__version__}"


def test_init_writes_the_practice_phone_recalls_will_print(run_cli, tmp_path):
    """`init --practice-phone` fills `[practice] phone`, which every recall prints."""
    result = run_cli("init", "inst", "--practice-phone", "01 99 00 00 00")
    assert result.returncode == 0, result.stderr
    config = load_config(tmp_path / "inst" / "fmt.toml")
    assert config.practice.phone == "01 99 00 00 00"


def test_check_config_refuses_unreadable_mllp_tls_files(run_cli, tmp_path):
    """A TLS certificate that is not PEM fails check-config as it fails serve (exit 2)."""
    run_cli("init", "inst")
    config = tmp_path / "inst" / "fmt.toml"
    (tmp_path / "inst" / "bad.pem").write_text("pas un certificat")
    (tmp_path / "inst" / "bad.key").write_text("pas une clé")
    (tmp_path / "inst" / "bad.key").chmod(0o600)
    text = config.read_text(encoding="utf-8")
    text = text.replace('# tls_cert = "/etc/fmt/mllp.crt"', 'tls_cert = "bad.pem"')
    config.write_text(
        text.replace('# tls_key = "/etc/fmt/mllp.key"', 'tls_key = "bad.key"'),
        encoding="utf-8",
    )
    result = run_cli("--config", config, "check-config")
    assert result.returncode == 2
    assert "mllp.tls_cert" in result.stderr
