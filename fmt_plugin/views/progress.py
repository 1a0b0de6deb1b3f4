"""What a long command is doing, on one terminal line redrawn in place; nothing when not a terminal.

A command on 20,000 patients spends tens of seconds in one step (evaluating the patientèle,
sending the recalls) without a count to show: the line names the step and the time spent in
it, redrawn every second by a thread of its own so that a busy step still looks alive. It
goes to standard error and only when that is a terminal: a cron job's mail, a pipe or a log
collector gets the command's own output and nothing else.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Self, TextIO

from fmt_plugin.views.french import elapsed

#: Erase from the cursor to the end of the line (ECMA-48 EL), after a carriage return.
CLEAR_LINE = "\r\033[K"


class Progress:
    """The current step of a long command and its elapsed time, on `stream` if it is a terminal.

    Use it as a context manager: the line is erased and the redrawing thread stopped at the
    end of the block, even on an error, so the command's own output starts on a clean line.
    Call `clear()` before printing to the same terminal in the middle of the work.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self.shown = stream.isatty()
        self._interval_s = interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._label: str | None = None
        self._started = 0.0
        self._drawn = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def step(self, label: str) -> None:
        """Start the step `label` ("Évaluation de la patientèle"): its time counts from now."""
        if not self.shown:
            return
        with self._lock:
            self._label = label
            self._started = self._clock()
            self._draw()
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._redraw_until_stopped, name="progress", daemon=True
            )
            self._thread.start()

    def redraw(self) -> None:
        """Draw the line again with the time spent so far (the thread calls it every second)."""
        with self._lock:
            self._draw()

    def clear(self) -> None:
        """Erase the line and end the step; the next `step` draws it again."""
        with self._lock:
            self._erase()
            self._label = None

    def close(self) -> None:
        """Erase the line and stop redrawing it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self.shown:
            self.clear()

    def _redraw_until_stopped(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.redraw()

    def _draw(self) -> None:
        if self._label is None:
            return
        seconds = int(self._clock() - self._started)
        line = f"{self._label}…"
        if seconds >= 1:
            line += f" {elapsed(seconds)}"
        if line != self._drawn:
            self._stream.write(CLEAR_LINE + line)
            self._stream.flush()
            self._drawn = line

    def _erase(self) -> None:
        if self._drawn:
            self._stream.write(CLEAR_LINE)
            self._stream.flush()
            self._drawn = ""
