"""Logging set-up: one line per event, plain text or JSON, on standard error or in the log file.

`serve` logs on standard error, which journald keeps (`configure_logging`). Every other
command writes its records to `[logging] file` and shows the terminal only warnings and errors
(`command_logging`): what the practice reads there is what the command prints itself.

What is logged is decided at each call site, which logs ids (internal patient id, MSH-10) and
counts, never names, INS, results or addresses; this module only formats. An exception is
rendered as its type and the place it was raised, never its message or traceback: a library's
exception message may quote the value it refused (a date of birth, a result), and a traceback
spans many lines that log collectors split into unrelated events.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import PurePath
from types import TracebackType
from typing import TextIO

from fmt_plugin.config import LoggingSettings
from fmt_plugin.errors import ConfigError

#: Loggers of libraries the service runs, routed through the same handler.
LIBRARY_LOGGERS = ("apscheduler",)
#: Warnings shown on the terminal by one command; the others are in the log file only.
TERMINAL_WARNINGS = 10

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


_TERMINAL_LEVELS = {"WARNING": "avertissement", "ERROR": "erreur", "CRITICAL": "erreur"}


class TerminalFormatter(logging.Formatter):
    """`fmt-plugin : avertissement : message`, on one line, as the command's own errors read."""

    def format(self, record: logging.LogRecord) -> str:
        """Render `record` for a person at the terminal: no time, no logger name."""
        level = _TERMINAL_LEVELS.get(record.levelname, record.levelname.lower())
        line = f"fmt-plugin : {level} : {record.getMessage()}"
        if record.exc_info and record.exc_info[0] is not None:
            line += f" [{describe_exception(record.exc_info)}]"
        return line.replace("\n", " | ")


class TerminalHandler(logging.StreamHandler[TextIO]):
    """Warnings and errors for the person at the terminal, without drowning the output.

    After `limit` warnings, one line says where the others are (the log file) and later
    warnings stay there; errors are always shown. On a terminal, the current line is
    cleared first, so a warning does not land in the middle of a progress line.
    """

    def __init__(self, stream: TextIO, log_file: PurePath, limit: int) -> None:
        super().__init__(stream)
        self.setLevel(logging.WARNING)
        self.setFormatter(TerminalFormatter())
        self._log_file = log_file
        self._limit = limit
        self._warnings = 0
        self._tty = stream.isatty()

    def emit(self, record: logging.LogRecord) -> None:
        """Show `record` unless the terminal has had its share of warnings."""
        if record.levelno < logging.ERROR:
            self._warnings += 1
            if self._warnings > self._limit + 1:
                return
            if self._warnings == self._limit + 1:
                record = logging.makeLogRecord(
                    {
                        "levelno": logging.WARNING,
                        "levelname": "WARNING",
                        "msg": "avertissements suivants dans le journal %s",
                        "args": (str(self._log_file),),
                    }
                )
        if self._tty:
            self.stream.write("\r\033[K")
        super().emit(record)


def configure_logging(settings: LoggingSettings) -> None:
    """Route the `fmt_plugin` loggers (and the libraries') to standard error at the configured level."""
    handler = logging.StreamHandler()
    handler.setFormatter(_formatter(settings))
    _route([handler], settings.level)


@contextmanager
def command_logging(settings: LoggingSettings, terminal: TextIO) -> Iterator[None]:
    """While a command runs: records to `settings.file`, warnings and errors to `terminal`.

    The file is opened for appending (created if needed), and reopened if logrotate moved
    it; it is closed, and the loggers put back as they were, when the block ends. Raises
    ConfigError naming `logging.file` when the file cannot be opened: nothing is changed.
    """
    if settings.file is None:
        raise ValueError("command_logging needs settings with a log file")
    try:
        file_handler = logging.handlers.WatchedFileHandler(
            settings.file, encoding="utf-8"
        )
    except OSError as exc:
        raise ConfigError(
            "journal impossible à ouvrir en écriture "
            f"({exc.strerror or type(exc).__name__})",
            path=settings.file,
            key="logging.file",
            expected="un fichier où le compte qui lance la commande peut écrire",
        ) from exc
    file_handler.setFormatter(_formatter(settings))
    terminal_handler = TerminalHandler(terminal, settings.file, TERMINAL_WARNINGS)
    names = ("fmt_plugin", *LIBRARY_LOGGERS)
    saved = {name: _state(logging.getLogger(name)) for name in names}
    _route([file_handler, terminal_handler], settings.level)
    try:
        yield
    finally:
        for name, state in saved.items():
            _restore(logging.getLogger(name), state)
        file_handler.close()


def _formatter(settings: LoggingSettings) -> logging.Formatter:
    return JsonFormatter() if settings.json else TextFormatter()


def _route(handlers: list[logging.Handler], level_name: str) -> None:
    """Send the `fmt_plugin` records at `level_name` and up, and the libraries' warnings, to `handlers`."""
    logger = logging.getLogger("fmt_plugin")
    logger.handlers[:] = handlers
    logger.setLevel(level_name)
    logger.propagate = False
    level = logging.getLevelName(level_name)
    for name in LIBRARY_LOGGERS:
        library = logging.getLogger(name)
        library.handlers[:] = handlers
        # A library's INFO is its own chatter (APScheduler: every job run); warnings matter.
        library.setLevel(max(level, logging.WARNING))
        library.propagate = False


_LoggerState = tuple[list[logging.Handler], int, bool]


def _state(logger: logging.Logger) -> _LoggerState:
    return logger.handlers[:], logger.level, logger.propagate


def _restore(logger: logging.Logger, state: _LoggerState) -> None:
    logger.handlers[:], level, logger.propagate = state
    logger.setLevel(level)
