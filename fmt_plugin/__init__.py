"""fmt-plugin: the public surface for adapter authors, the `hookimpl` marker and the version."""

from __future__ import annotations

from fmt_plugin.hooks import hookimpl

__version__ = "0.1.0"

__all__ = ["__version__", "hookimpl"]
