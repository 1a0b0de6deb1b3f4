"""`python -m fmt_plugin` runs the command-line interface."""

from __future__ import annotations

from fmt_plugin.cli import main

raise SystemExit(main())
