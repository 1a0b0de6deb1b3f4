"""The CLI run on a pseudo-terminal, as a user at a keyboard: prompts answered in turn.

The terminal is the program's controlling terminal and its stdin, stdout and stderr, so
`input()` prompts, `getpass` (which reads /dev/tty, without echo) and error messages all
show on the one screen the test reads.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path


def run_at_terminal(
    cwd: Path, *args: str | Path, answers: list[str], prompt: bytes
) -> tuple[int, str]:
    """Run `python -m fmt_plugin ARGS`; after each `prompt` shown, type the next answer.

    Returns the exit status and everything the screen showed (line ends as `\\n`).
    """
    master, slave = os.openpty()
    environ = {
        k: v for k, v in os.environ.items() if k not in ("FMT_CONFIG", "COLUMNS")
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "fmt_plugin", *map(str, args)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=cwd,
        env=environ,
        start_new_session=True,  # the pty becomes its controlling terminal
    )
    os.close(slave)
    shown = b""
    try:
        for answer in answers:
            shown += read_until(master, prompt)
            os.write(master, answer.encode() + b"\n")
        shown += read_until(master, None)
        process.wait(timeout=60)
    finally:
        os.close(master)
    return process.returncode, shown.decode("utf-8", "replace").replace("\r\n", "\n")


def read_until(fd: int, marker: bytes | None, timeout: float = 60) -> bytes:
    """What the terminal shows until `marker` appears (None: until the program exits)."""
    data = b""
    deadline = time.monotonic() + timeout
    while marker is None or marker not in data:
        ready, _, _ = select.select([fd], [], [], max(0, deadline - time.monotonic()))
        if not ready:
            raise AssertionError(f"no {marker!r} on the terminal: {data!r}")
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the program closed the terminal
            break
        if not chunk:
            break
        data += chunk
    return data
