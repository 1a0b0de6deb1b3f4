"""Log lines: one per event, exceptions as type and place, never their message."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from fmt_plugin.config import LoggingSettings
from fmt_plugin.logs import JsonFormatter, TextFormatter, configure_logging

SECRET = "DUPONT 1 76 03 75 112 123 45"


def failing_record() -> logging.LogRecord:
    """A record logged with `log.exception`, whose exception quotes patient data."""
    try:
        raise ValueError(f"date invalide pour {SECRET}")
    except ValueError:
        return logging.LogRecord(
            "fmt_plugin.ingest",
            logging.ERROR,
            __file__,
            1,
            "message %s not integrated",
            ("MSG001",),
            sys.exc_info(),
        )


def test_text_exception_is_its_type_and_place_on_the_same_line():
    """Text: the message, then `[ValueError at test_logs.py:N]`, all on one line."""
    line = TextFormatter().format(failing_record())
    assert "\n" not in line
    assert "message MSG001 not integrated" in line
    assert "[ValueError at test_logs.py:" in line


def test_text_exception_message_and_traceback_are_not_written():
    """The exception's own text (which may quote data) never reaches the log."""
    assert SECRET not in TextFormatter().format(failing_record())


def test_json_line_names_the_exception_without_its_message():
    """JSON: one object per line, `exception` holds the type and place only."""
    line = JsonFormatter().format(failing_record())
    entry = json.loads(line)
    assert entry["message"] == "message MSG001 not integrated"
    assert entry["exception"].startswith("ValueError at test_logs.py:")
    assert SECRET not in line


def test_a_multi_line_message_is_folded_onto_one_line():
    """A message with newlines stays one event for a log collector."""
    record = logging.LogRecord(
        "fmt_plugin", logging.INFO, __file__, 1, "a\nb", (), None
    )
    assert TextFormatter().format(record).endswith("a | b")


@pytest.fixture
def restore_loggers():
    names = ("fmt_plugin", "apscheduler")
    saved = {
        name: (logging.getLogger(name).handlers[:], logging.getLogger(name).level)
        for name in names
    }
    yield
    for name, (handlers, level) in saved.items():
        logging.getLogger(name).handlers[:] = handlers
        logging.getLogger(name).setLevel(level)
        logging.getLogger(name).propagate = True


def test_apscheduler_warnings_go_through_the_same_formatter(restore_loggers, capsys):
    """APScheduler's warnings are JSON lines too; its INFO chatter is left out."""
    configure_logging(LoggingSettings(level="INFO", json=True))
    logging.getLogger("apscheduler.scheduler").info("Added job")
    logging.getLogger("apscheduler.executors").warning("Run time of job was missed")
    lines = capsys.readouterr().err.splitlines()
    assert [json.loads(line)["message"] for line in lines] == [
        "Run time of job was missed"
    ]
