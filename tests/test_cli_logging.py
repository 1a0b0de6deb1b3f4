"""The commands log to the log file; the terminal gets their output and the warnings only."""

from __future__ import annotations

import io
import json
import logging
import re
from pathlib import Path

import pytest

from fmt_plugin.config import LoggingSettings, load_config
from fmt_plugin.errors import ConfigError
from fmt_plugin.logs import TERMINAL_WARNINGS, command_logging

AS_OF = "2026-03-15"
#: The TextFormatter's level field: `2026-03-15 09:00:00,123 INFO fmt_plugin…`.
INFO_LINE = re.compile(r"^\S+ \S+ INFO fmt_plugin", re.MULTILINE)


def set_logging(config: Path, *lines: str) -> None:
    """Add `lines` to the `[logging]` section of `config`."""
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace("[logging]\n", "[logging]\n" + "".join(f"{x}\n" for x in lines)),
        encoding="utf-8",
    )


def planned_ids(config: Path) -> int:
    return sum(1 for _ in (config.parent / "outbox").glob("*.eml"))


def test_recalls_run_shows_no_log_line_on_the_terminal(run_cli, scenario_config):
    """Several recalls sent, and standard error stays empty (no INFO line, no progress)."""
    result = run_cli("--config", scenario_config, "recalls", "run", "--as-of", AS_OF)
    assert result.returncode == 0, result.stderr
    assert planned_ids(scenario_config) >= 3
    assert result.stderr == ""
    assert "Envoi : " in result.stdout


def test_recalls_run_writes_one_line_per_transition_to_the_log_file(
    run_cli, scenario_config
):
    """fmt.log, beside the database, has a `planned` and a `sent` line per recall."""
    run_cli("--config", scenario_config, "recalls", "run", "--as-of", AS_OF)
    log = (scenario_config.parent / "fmt.log").read_text(encoding="utf-8")
    sent = planned_ids(scenario_config)
    assert (
        len(re.findall(r"INFO fmt_plugin\.storage\.outbox: recall \d+: planned", log))
        == sent
    )
    assert (
        len(re.findall(r"INFO fmt_plugin\.storage\.outbox: recall \d+: sent", log))
        == sent
    )
    assert "recalls_run started" in log


def test_each_command_appends_to_the_log_file(run_cli, scenario_config):
    """Two commands, two `started` lines: the file is appended to, never rewritten."""
    run_cli("--config", scenario_config, "recalls", "list")
    run_cli("--config", scenario_config, "audit", "verify")
    log = (scenario_config.parent / "fmt.log").read_text(encoding="utf-8")
    assert log.index("recalls_list started") < log.index("audit_verify started")


def test_the_log_file_keeps_the_configured_level(run_cli, scenario_config):
    """`level = "WARNING"`: the recall transitions are not written at all."""
    text = scenario_config.read_text(encoding="utf-8")
    scenario_config.write_text(
        text.replace('level = "INFO"', 'level = "WARNING"'), encoding="utf-8"
    )
    run_cli("--config", scenario_config, "recalls", "run", "--as-of", AS_OF)
    log = scenario_config.parent / "fmt.log"
    assert not INFO_LINE.search(log.read_text(encoding="utf-8"))


def test_json_lines_in_the_log_file(run_cli, scenario_config):
    """`json = true` writes one JSON object per line in the file too."""
    text = scenario_config.read_text(encoding="utf-8")
    scenario_config.write_text(
        text.replace("json = false", "json = true"), encoding="utf-8"
    )
    run_cli("--config", scenario_config, "recalls", "run", "--as-of", AS_OF)
    lines = (
        (scenario_config.parent / "fmt.log").read_text(encoding="utf-8").splitlines()
    )
    assert lines
    assert {json.loads(line)["level"] for line in lines} == {"INFO"}


def test_a_relative_log_file_is_resolved_against_the_config_folder(
    run_cli, scenario_config
):
    """`file = "journaux/fmt-plugin.log"` writes there, and not the default fmt.log."""
    (scenario_config.parent / "journaux").mkdir()
    set_logging(scenario_config, 'file = "journaux/fmt-plugin.log"')
    result = run_cli("--config", scenario_config, "recalls", "run", "--as-of", AS_OF)
    assert result.returncode == 0, result.stderr
    log = scenario_config.parent / "journaux" / "fmt-plugin.log"
    assert "recall 1: planned" in log.read_text(encoding="utf-8")
    assert not (scenario_config.parent / "fmt.log").exists()


def test_by_default_the_log_file_is_beside_the_database(tmp_path, scenario_config):
    """A store elsewhere (the /var/lib layout) takes the log with it: not beside fmt.toml."""
    data = tmp_path / "data"
    text = scenario_config.read_text(encoding="utf-8")
    scenario_config.write_text(
        text.replace('path = "fmt.sqlite3"', f'path = "{data / "fmt.sqlite3"}"'),
        encoding="utf-8",
    )
    assert load_config(scenario_config).logging.file == data / "fmt.log"


def test_a_log_file_that_cannot_be_written_is_a_configuration_error(
    run_cli, scenario_config
):
    """A missing folder: exit 2, one French line naming the file and `logging.file`."""
    set_logging(scenario_config, 'file = "absent/fmt.log"')
    result = run_cli("--config", scenario_config, "recalls", "list")
    assert result.returncode == 2
    assert "clé « logging.file »" in result.stderr
    assert str(scenario_config.parent / "absent" / "fmt.log") in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    return tmp_path / "fmt.log"


def test_warnings_reach_the_terminal_in_french_and_the_file(log_file):
    """A warning is on both; an INFO record only in the file."""
    terminal = io.StringIO()
    with command_logging(LoggingSettings(level="INFO", file=log_file), terminal):
        logging.getLogger("fmt_plugin.test").info("recall 7: planned")
        logging.getLogger("fmt_plugin.test").warning("store busy, retrying")
    assert terminal.getvalue() == "fmt-plugin : avertissement : store busy, retrying\n"
    written = log_file.read_text(encoding="utf-8")
    assert "INFO fmt_plugin.test: recall 7: planned" in written
    assert "WARNING fmt_plugin.test: store busy, retrying" in written


def test_the_loggers_are_put_back_after_the_command(log_file):
    """After the block, `fmt_plugin` has its former handlers and propagation again."""
    logger = logging.getLogger("fmt_plugin")
    before = (logger.handlers[:], logger.level, logger.propagate)
    with command_logging(LoggingSettings(file=log_file), io.StringIO()):
        assert logger.handlers != before[0]
    assert (logger.handlers, logger.level, logger.propagate) == before


def test_the_terminal_gets_a_bounded_number_of_warnings(log_file):
    """After TERMINAL_WARNINGS, one line points to the log file; errors still show."""
    terminal = io.StringIO()
    log = logging.getLogger("fmt_plugin.test")
    with command_logging(LoggingSettings(file=log_file), terminal):
        for n in range(TERMINAL_WARNINGS + 5):
            log.warning("message %d quarantined", n)
        log.error("adapter failed")
    lines = terminal.getvalue().splitlines()
    assert len(lines) == TERMINAL_WARNINGS + 2
    assert lines[TERMINAL_WARNINGS] == (
        f"fmt-plugin : avertissement : avertissements suivants dans le journal {log_file}"
    )
    assert lines[-1] == "fmt-plugin : erreur : adapter failed"
    written = log_file.read_text(encoding="utf-8")
    assert written.count("quarantined") == TERMINAL_WARNINGS + 5


def test_settings_without_a_log_file_are_refused(log_file):
    """Settings built in code without `file` cannot silently log nowhere."""
    with pytest.raises(ValueError, match="log file"):  # noqa: SIM117 -- the enter raises
        with command_logging(LoggingSettings(), io.StringIO()):
            pass


def test_an_unopenable_log_file_names_the_setting(tmp_path):
    """ConfigError with key logging.file and the file's path."""
    settings = LoggingSettings(file=tmp_path / "absent" / "fmt.log")
    with pytest.raises(ConfigError) as error:  # noqa: SIM117 -- the enter raises
        with command_logging(settings, io.StringIO()):
            pass
    assert error.value.key == "logging.file"
    assert error.value.path == settings.file
