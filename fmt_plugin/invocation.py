"""What every command-line entry point needs to know about its invocation: who runs it, and dates.

Shared by `fmt_plugin.cli` and the sub-commands registered from other packages (the demo), so
that they do not import the CLI module that imports them.
"""

from __future__ import annotations

import argparse
import getpass
from datetime import date


def current_actor() -> str:
    """Who runs the command, for the audit log."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry (containers): still audit the action
        return "cli"


def iso_date_argument(text: str) -> date:
    """An argparse `type`: `AAAA-MM-JJ`, or a usage error saying so."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"date invalide {text!r}, attendu AAAA-MM-JJ"
        ) from None
