"""Long commands show their step on a terminal, and nothing when standard error is not one."""

from __future__ import annotations

import io
import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest

from fmt_plugin.views.progress import CLEAR_LINE, Progress

AS_OF = "2026-03-15"


class FakeTerminal(io.StringIO):
    """A stream that says it is a terminal, as sys.stderr does in a shell."""

    def isatty(self) -> bool:
        return True


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_nothing_is_drawn_when_the_stream_is_not_a_terminal():
    """A pipe or a file gets no progress at all."""
    stream = io.StringIO()
    with Progress(stream) as progress:
        progress.step("Évaluation de la patientèle")
        progress.redraw()
    assert stream.getvalue() == ""


def test_a_step_is_drawn_in_place_on_a_terminal():
    """The line starts with a carriage return and the erase sequence, then the step."""
    stream = FakeTerminal()
    with Progress(stream, interval_s=60) as progress:
        progress.step("Évaluation de la patientèle")
        assert stream.getvalue() == CLEAR_LINE + "Évaluation de la patientèle…"


def test_the_time_spent_in_the_step_is_shown_in_french():
    """After 75 s the line reads `… 1 min 15 s`, and is not redrawn while unchanged."""
    stream, clock = FakeTerminal(), Clock()
    with Progress(stream, interval_s=60, clock=clock) as progress:
        progress.step("Envoi de 340 message(s)")
        clock.now += 75
        progress.redraw()
        progress.redraw()
        text = stream.getvalue()
    assert text.endswith("Envoi de 340 message(s)… 1 min 15 s")
    assert text.count("1 min 15 s") == 1


def test_the_line_is_erased_when_the_work_ends():
    """Leaving the block erases the line, so the command's output starts clean."""
    stream = FakeTerminal()
    with Progress(stream, interval_s=60) as progress:
        progress.step("Mise en file")
    assert stream.getvalue().endswith("Mise en file…" + CLEAR_LINE)


def fail_during_a_step(stream: FakeTerminal) -> None:
    with Progress(stream, interval_s=60) as progress:
        progress.step("Envoi")
        raise RuntimeError


def test_the_line_is_erased_on_an_error_too():
    """An exception inside the block still leaves a clean line for the error message."""
    stream = FakeTerminal()
    with pytest.raises(RuntimeError):
        fail_during_a_step(stream)
    assert stream.getvalue().endswith(CLEAR_LINE)


def test_the_redrawing_thread_stops_with_the_block():
    """No thread is left behind by a finished command."""
    stream = FakeTerminal()
    with Progress(stream, interval_s=0.01) as progress:
        progress.step("Évaluation")
        thread = progress._thread
        assert thread is not None
        assert thread.is_alive()
    assert not thread.is_alive()


def run_on_a_terminal(cwd: Path, *args: str | Path) -> tuple[int, str, str]:
    """Run the CLI with standard error on a pseudo-terminal; (status, stdout, terminal)."""
    controller, terminal = pty.openpty()
    environ = {k: v for k, v in os.environ.items() if k != "FMT_CONFIG"}
    process = subprocess.Popen(
        [sys.executable, "-m", "fmt_plugin", *map(str, args)],
        cwd=cwd,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=terminal,
        text=True,
    )
    os.close(terminal)
    seen = b""
    while True:
        ready, _, _ = select.select([controller], [], [], 120)
        if not ready:
            process.kill()
            break
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # EIO: the last writer closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(controller)
    stdout, _ = process.communicate(timeout=120)
    return process.returncode, stdout, seen.decode("utf-8")


def test_recalls_run_shows_its_steps_on_a_terminal(tmp_path, scenario_config):
    """On a terminal: evaluation, queueing and sending are drawn, then erased."""
    status, stdout, terminal = run_on_a_terminal(
        tmp_path, "--config", scenario_config, "recalls", "run", "--as-of", AS_OF
    )
    assert status == 0, terminal
    assert "Évaluation de la patientèle et planification des rappels…" in terminal
    assert "Envoi de " in terminal
    assert terminal.endswith(CLEAR_LINE)
    assert "INFO" not in terminal
    assert "Envoi : " in stdout


@pytest.mark.slow
def test_the_demo_shows_its_steps_on_a_terminal_and_its_summary_on_stdout(tmp_path):
    """The demo draws sync, HL7 replay and evaluation steps; the summary reads in euros."""
    status, stdout, terminal = run_on_a_terminal(
        tmp_path,
        "demo",
        tmp_path / "demo-fmt",
        "--once",
        "--as-of",
        AS_OF,
        "--mllp-port",
        "0",
        "--http-port",
        "0",
    )
    assert status == 0, terminal
    for step in (
        "Synchronisation de la patientèle fictive…",
        "Envoi des messages HL7…",
        "Évaluation de la patientèle et rappels…",
    ):
        assert step in terminal
    assert terminal.endswith(CLEAR_LINE)
    assert re.search(r"Potentiel FMT : [\d\u202f]+\u202f€ acquis", stdout)
    # Any duration `elapsed` writes: a loaded machine takes minutes.
    assert re.search(
        r"Démonstration prête en (\d+ h )?(\d+ min )?\d+(,\d)? (s|min)\.", stdout
    )
