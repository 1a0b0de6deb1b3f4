"""`fmt-plugin serve` as a subprocess on free ports, ready once it said where it listens."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

LISTENING = re.compile(r"listening for HL7 \(MLLP[^)]*\) on ([\d.]+):(\d+)")
STATUS = re.compile(r"status endpoint on (https?://\S+)/status")
START_TIMEOUT_S = 60


@dataclass
class Server:
    """A running `fmt-plugin serve` and the stderr lines it printed so far."""

    process: subprocess.Popen[str]
    host: str = ""
    port: int = 0
    status_url: str = ""
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None
    printed: threading.Condition = field(default_factory=threading.Condition)
    #: Set once the process closed its stderr (it ended): no line will come any more.
    ended: bool = False

    def wait_for_line(self, pattern: str, timeout_s: float = START_TIMEOUT_S) -> str:
        """The first line printed so far or later that matches `pattern`; fails the test
        if none comes within `timeout_s` or the process ends first."""

        def found() -> str | None:
            line = next((ln for ln in self.lines if re.search(pattern, ln)), None)
            if line is None and self.ended:
                return ""
            return line

        with self.printed:
            line = self.printed.wait_for(found, timeout_s)
        if not line:
            pytest.fail(f"serve never printed {pattern!r}:\n" + "".join(self.lines))
        return line

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Send `sig`, wait for the exit, and release the stderr pipe."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout=30)
        if self.reader is not None:
            self.reader.join(timeout=30)
        if self.process.stderr is not None:
            self.process.stderr.close()
        return code


def start_server(
    config: Path,
    cwd: Path,
    *,
    python_path: Path | None = None,
    extra_env: dict[str, str] | None = None,
) -> Server:
    """Start the service on free ports; return once its status endpoint is up.

    The status endpoint starts last, so its log line means every part is up.
    `python_path` is prepended to PYTHONPATH (for an adapter module the test wrote).
    """
    env = {k: v for k, v in os.environ.items() if k != "FMT_CONFIG"}
    env.update(extra_env or {})
    if python_path is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(python_path), env.get("PYTHONPATH")])
        )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fmt_plugin",
            "--config",
            str(config),
            "serve",
            "--mllp-port",
            "0",
            "--http-port",
            "0",
        ],
        cwd=cwd,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    server = Server(process)
    ready = threading.Event()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            with server.printed:
                server.lines.append(line)
                server.printed.notify_all()
            if match := LISTENING.search(line):
                server.host, server.port = match.group(1), int(match.group(2))
            if match := STATUS.search(line):
                server.status_url = match.group(1)
                ready.set()
        ready.set()  # the process ended: let the waiters see it
        with server.printed:
            server.ended = True
            server.printed.notify_all()

    server.reader = threading.Thread(target=read, daemon=True)
    server.reader.start()
    if not ready.wait(START_TIMEOUT_S) or not server.status_url:
        server.stop(signal.SIGKILL)
        pytest.fail("serve did not start:\n" + "".join(server.lines))
    return server
