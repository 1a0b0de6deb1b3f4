"""What every command-line entry point needs to know about its invocation: who runs it, and dates.

Shared by every sub-command module and by those registered from other packages (the demo), so
that none of them imports the CLI module that imports them.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from collections.abc import Callable
from datetime import date
from typing import TypeAlias

from fmt_plugin.config import config_path_from
from fmt_plugin.installation import Installation, open_installation
from fmt_plugin.logs import command_logging

log = logging.getLogger(__name__)

#: The sub-parser collection each command module registers into.
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def with_installation(
    args: argparse.Namespace, action: Callable[[Installation], int]
) -> int:
    """Open the installation `--config` (or FMT_CONFIG) names, log as it says, run `action`.

    Log records go to the installation's log file; the terminal (standard error) shows only
    warnings and errors beside what `action` prints itself.
    """
    config_path = config_path_from(args.config, os.environ)
    with (
        open_installation(config_path) as installation,
        command_logging(installation.config.logging, sys.stderr),
    ):
        # Which command the lines that follow come from; its arguments may name a patient.
        handler = getattr(args, "handler", None)
        name = getattr(handler, "__name__", "command").removeprefix("cmd_")
        log.info("%s started (pid %d)", name, os.getpid())
        return action(installation)


def current_actor() -> str:
    """Who runs the command, for the audit log."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry (containers): still audit the action
        return "cli"


#: The dates a command accepts: anything else is a typo (`20226-01-01`) or a test of limits.
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2100, 12, 31)


def iso_date_argument(text: str) -> date:
    """An argparse `type`: `AAAA-MM-JJ` or `JJ/MM/AAAA`, from 1900 to 2100.

    A usage error names the form expected, or the range when the date is outside it.
    """
    value = text.strip()
    try:
        if "/" in value:
            day, month, year = value.split("/")
            if len(year) != 4:
                raise ValueError(value)
            parsed = date(int(year), int(month), int(day))
        else:
            parsed = date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"date invalide « {text} », attendu AAAA-MM-JJ ou JJ/MM/AAAA"
        ) from None
    if not EARLIEST_DATE <= parsed <= LATEST_DATE:
        raise argparse.ArgumentTypeError(
            f"date hors limites « {text} » : entre le 01/01/1900 et le 31/12/2100"
        )
    return parsed
