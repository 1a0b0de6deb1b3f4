"""The practice's time zone: every calendar date and local time of fmt-plugin is Europe/Paris."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


def today_in_paris() -> date:
    """The calendar date in Europe/Paris, the default `as_of` of every command.

    For entry points only: rule code takes `as_of` from its caller and never reads the clock.
    """
    return datetime.now(PARIS).date()
