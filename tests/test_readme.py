"""The README's Quick start stays true: two commands, the second one is exactly what CI runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]


def quick_start_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)\n```", section, flags=re.DOTALL)


def test_quick_start_has_exactly_two_commands():
    """The Quick start is two one-line commands: run the service, run the tests."""
    commands = quick_start_commands()
    assert len(commands) == 2
    assert all("\n" not in command for command in commands)


def test_ci_runs_the_readme_test_command_word_for_word():
    """.ci/run contains the README's test command unchanged."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    test_command = quick_start_commands()[1]
    assert "pytest" in test_command
    assert test_command in ci.splitlines()


def test_the_first_command_installs_and_runs_the_demo_practice():
    """The first command ends with `fmt-plugin demo`, which the real CLI parser accepts."""
    from fmt_plugin.cli import build_parser
    from fmt_plugin.demo.command import cmd_demo

    first = quick_start_commands()[0]
    assert "pip install ." in first
    invocation = first.split("&&")[-1].split()
    assert invocation[0].endswith("fmt-plugin")
    args = build_parser().parse_args(invocation[1:])
    assert args.handler is cmd_demo
