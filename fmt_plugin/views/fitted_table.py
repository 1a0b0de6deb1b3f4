"""Plain-text tables fitted to the terminal: long names are shortened, never wrapped.

A wrapped table is unreadable in a terminal. When the rows are wider than the screen, the
columns marked shrinkable (names, labels) give up characters, the widest first, down to a
floor, and their cells end with `…`; the other columns (dates, NIR, statuses) are never cut,
because a cut date or NIR is wrong, not short.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Collection, Sequence
from typing import TextIO

#: Two spaces between columns, as everywhere in the CLI's tables.
GAP = "  "
#: A shrinkable column keeps at least this many characters (`DUPO…`).
MIN_SHRUNK_WIDTH = 6
ELLIPSIS = "…"


def terminal_width(stream: TextIO | None = None) -> int | None:
    """The width to fit to: `COLUMNS` when set, the terminal's when writing to one, else None.

    None (output to a file or a pipe) means "do not cut": a file keeps every character.
    """
    stream = stream or sys.stdout
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    try:
        if stream.isatty():
            return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return None
    return None


def fitted_widths(
    rows: Sequence[Sequence[str]], width: int | None, shrinkable: Collection[int]
) -> list[int]:
    """Each column's width: its widest cell, less what the shrinkable ones give to fit.

    When even the shortest names would not fit, nothing is cut.
    """
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    if width is None:
        return widths
    excess = sum(widths) + len(GAP) * (len(widths) - 1) - width
    room = sum(max(widths[c] - MIN_SHRUNK_WIDTH, 0) for c in shrinkable)
    if excess > room:
        # Too narrow even with every name cut: the terminal will wrap the lines anyway,
        # so keep the names whole rather than cut them for nothing.
        return widths
    while excess > 0:
        candidates = [c for c in shrinkable if widths[c] > MIN_SHRUNK_WIDTH]
        if not candidates:
            break
        widest = max(candidates, key=lambda c: widths[c])
        widths[widest] -= 1
        excess -= 1
    return widths


def shortened(cell: str, width: int) -> str:
    """`cell`, or its start and `…` in `width` characters when it is longer."""
    if len(cell) <= width:
        return cell
    return cell[: width - 1] + ELLIPSIS


def fitted_table(
    rows: Sequence[Sequence[str]],
    width: int | None,
    shrinkable: Collection[int] = (),
) -> list[str]:
    """The rows as aligned lines (the first one a header, underlined) within `width`."""
    if not rows:
        return []
    widths = fitted_widths(rows, width, shrinkable)
    lines = []
    for index, row in enumerate(rows):
        cells = [
            shortened(cell, w).ljust(w) for cell, w in zip(row, widths, strict=True)
        ]
        lines.append(GAP.join(cells).rstrip())
        if index == 0:
            lines.append(GAP.join("-" * w for w in widths))
    return lines
