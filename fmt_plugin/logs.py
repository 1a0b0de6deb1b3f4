"""Logging set-up: one line per event, plain text or JSON, on standard error.

What is logged is decided at each call site, which logs ids (internal patient id, MSH-10) and
counts, never names, INS, results or addresses; this module only formats. An exception is
rendered as its type and the place it was raised, never its message or traceback: a library's
exception message may quote the value it refused (a date of birth, a result), and a traceback
spans many lines that log collectors split into unrelated events.
"""

from __future__ import annotations

import json
import logging
import traceback
from datetime import UTC, datetime
from pathlib import PurePath
from types import TracebackType

from fmt_plugin.config import LoggingSettings

#: Loggers of libraries the service runs, routed through the same handler.
LIBRARY_LOGGERS = ("apscheduler",)

_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def describe_exception(exc_info: _ExcInfo) -> str:
    """`ValueError at fmt_plugin/x.py:12`: the type and innermost frame, without the message."""
    exc_type, _, tb = exc_info
    frames = traceback.extract_tb(tb) if tb is not None else []
    if not frames:
        return exc_type.__name__
    last = frames[-1]
    return f"{exc_type.__name__} at {_short_path(last.filename)}:{last.lineno}"


def _short_path(filename: str) -> str:
    """The path from the package (or from site-packages) down: the machine's layout says nothing."""
    parts = PurePath(filename).parts
    for anchor, keep in (("site-packages", False), ("fmt_plugin", True)):
        if anchor in parts:
            start = len(parts) - parts[::-1].index(anchor) - (1 if keep else 0)
            return "/".join(parts[start:])
    return PurePath(filename).name


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message [exception type at file:line]`, always on one line."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """Render `record` on a single line."""
        line = super().formatMessage(self._prepared(record))
        if record.exc_info and record.exc_info[0] is not None:
            line += f" [{describe_exception(record.exc_info)}]"
        return line.replace("\n", " | ")

    def _prepared(self, record: logging.LogRecord) -> logging.LogRecord:
        record.message = record.getMessage()
        record.asctime = self.formatTime(record)
        return record


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and the exception's type and place)."""

    def format(self, record: logging.LogRecord) -> str:
        """Render `record` as a single JSON line."""
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = describe_exception(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(settings: LoggingSettings) -> None:
    """Route the `fmt_plugin` loggers (and the libraries') to standard error at the configured level."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if settings.json else TextFormatter())
    logger = logging.getLogger("fmt_plugin")
    logger.handlers[:] = [handler]
    logger.setLevel(settings.level)
    logger.propagate = False
    level = logging.getLevelName(settings.level)
    for name in LIBRARY_LOGGERS:
        library = logging.getLogger(name)
        library.handlers[:] = [handler]
        # A library's INFO is its own chatter (APScheduler: every job run); warnings matter.
        library.setLevel(max(level, logging.WARNING))
        library.propagate = False
