"""Plain-text tables whose first column is a label and the others numbers."""

from __future__ import annotations

from collections.abc import Sequence


def aligned_numbers(rows: Sequence[Sequence[str]]) -> list[str]:
    """The label column left-aligned, the numbers right-aligned under their headers."""
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    return [
        "  ".join(
            [row[0].ljust(widths[0])]
            + [cell.rjust(w) for cell, w in zip(row[1:], widths[1:], strict=True)]
        )
        for row in rows
    ]
