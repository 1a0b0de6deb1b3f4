"""The pluggy markers of the project `fmt_plugin`: `hookspec` for the contract, `hookimpl` for adapters."""

from __future__ import annotations

import pluggy

PROJECT_NAME = "fmt_plugin"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

__all__ = ["PROJECT_NAME", "hookimpl", "hookspec"]
