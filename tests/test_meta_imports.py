"""Every module of the package imports on its own in a fresh interpreter (no import cycles)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import fmt_plugin

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(fmt_plugin.__path__, prefix="fmt_plugin.")
    if not info.name.endswith("__main__")
)


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_alone(module):
    """Importing the module first, in a new interpreter, succeeds."""
    result = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
