"""The practice's time zone: every calendar date and local time of fmt-plugin is Europe/Paris."""

from __future__ import annotations

from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
