"""Enable fmt-plugin's conformance kit: its fixtures and the AdapterConformance tests."""

from __future__ import annotations

pytest_plugins = ["fmt_plugin.testing"]
