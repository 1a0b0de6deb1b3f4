"""The roster's optional `c2s` column (Complémentaire santé solidaire) in the CSV adapter."""

from __future__ import annotations

from pathlib import Path

import pytest

from fmt_plugin.adapters.csv_roster import ROSTER_COLUMNS, read_roster

HEADER = ",".join(ROSTER_COLUMNS)
ROW = "Q01,,AUGUSTE,CHRISTIAN,1960-12-01,M,,,,0,,,"


def read(path: Path, *lines: str) -> tuple[list[bool], list[str]]:
    """The c2s flags of the roster made of `lines`, and its problems' columns."""
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    patients, problems = read_roster(path)
    return [p.c2s for p in patients], [str(p.column) for p in problems]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("oui", True),
        ("OUI", True),
        ("1", True),
        ("true", True),
        ("vrai", True),
        ("non", False),
        ("0", False),
        ("false", False),
        ("", False),
    ],
)
def test_c2s_cell_reads_as_yes_or_no(tmp_path: Path, cell: str, expected: bool) -> None:
    """`c2s` accepts oui/non, 1/0, true/false (any case), an empty cell meaning no."""
    assert read(tmp_path / "r.csv", HEADER + ",c2s", f"{ROW},{cell}") == (
        [expected],
        [],
    )


def test_roster_without_c2s_column_reads_every_patient_without_c2s(
    tmp_path: Path,
) -> None:
    """A roster written before the column existed is read whole, nobody with the C2S."""
    assert read(tmp_path / "r.csv", HEADER, ROW) == ([False], [])


def test_c2s_column_may_sit_anywhere_and_be_spelled_out(tmp_path: Path) -> None:
    """`Complémentaire santé solidaire` in first place is the `c2s` column."""
    header = "Complémentaire santé solidaire," + HEADER
    assert read(tmp_path / "r.csv", header, "oui," + ROW) == ([True], [])


def test_bad_c2s_cell_rejects_the_record_naming_the_column(tmp_path: Path) -> None:
    """`c2s` = `peut-être` leaves the record out with a problem located at `c2s`."""
    assert read(tmp_path / "r.csv", HEADER + ",c2s", f"{ROW},peut-être") == (
        [],
        ["c2s"],
    )
