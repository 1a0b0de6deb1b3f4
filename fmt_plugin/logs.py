"""Logging set-up: one line per event, plain text or JSON, on standard error.

What is logged is decided at each call site, which logs ids (internal patient id, MSH-10) and
counts, never names, INS, results or addresses; this module only formats.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from fmt_plugin.config import LoggingSettings


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and the exception type)."""

    def format(self, record: logging.LogRecord) -> str:
        """Render `record` as a single JSON line."""
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = record.exc_info[0].__name__
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(settings: LoggingSettings) -> None:
    """Route the `fmt_plugin` loggers to standard error at the configured level."""
    handler = logging.StreamHandler()
    if settings.json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
    logger = logging.getLogger("fmt_plugin")
    logger.handlers[:] = [handler]
    logger.setLevel(settings.level)
    logger.propagate = False
