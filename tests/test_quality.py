"""ruff and strict mypy run inside the suite, so the README's test command is what CI checks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def run_tool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_ruff_lint_is_clean():
    """`ruff check` finds nothing in the package, tests and benchmarks."""
    result = run_tool("ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_applied():
    """Every file is formatted as `ruff format` would."""
    result = run_tool("ruff", "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_mypy_strict_passes_on_the_package():
    """`mypy --strict` (configured in pyproject) finds no error in fmt_plugin."""
    result = run_tool("mypy")
    assert result.returncode == 0, result.stdout + result.stderr
