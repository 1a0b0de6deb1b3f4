"""Tables fitted to the terminal: names shortened, widest first; dates and NIR never cut."""

from __future__ import annotations

from fmt_plugin.views.fitted_table import MIN_SHRUNK_WIDTH, fitted_table, shortened

ROWS = [
    ["Nom", "Indicateur", "Échéance"],
    ["CHEVALIER-DUPONT", "Dépistage cancer colorectal", "15/03/2026"],
    ["NICOLE", "Grippe", "14/10/2025"],
]


def widest_line(lines: list[str]) -> int:
    return max(len(line) for line in lines)


def test_table_without_a_width_keeps_every_character():
    """Written to a file (width None), nothing is cut."""
    lines = fitted_table(ROWS, None, shrinkable=(0, 1))
    assert "CHEVALIER-DUPONT" in lines[2]
    assert "Dépistage cancer colorectal" in lines[2]


def test_header_is_underlined_column_by_column():
    """The second line rules each column to its width."""
    lines = fitted_table(ROWS, None)
    assert lines[1] == "-" * 16 + "  " + "-" * 27 + "  " + "-" * 10


def test_wide_table_is_shortened_to_the_width_from_the_widest_column():
    """At 45 columns the label gives first, and the cut cells end with …."""
    lines = fitted_table(ROWS, 45, shrinkable=(0, 1))
    assert widest_line(lines) == 45
    assert lines[2].split("  ")[0] == "CHEVALIER-DUPO…"  # 15 wide: both gave
    assert "…" in lines[2].split("  ")[1]


def test_columns_not_marked_shrinkable_are_never_cut():
    """A cut date is a wrong date: the Échéance column stays whole."""
    lines = fitted_table(ROWS, 40, shrinkable=(0, 1))
    assert all(line.endswith(("15/03/2026", "14/10/2025")) for line in lines[2:])


def test_table_that_cannot_fit_even_cut_keeps_its_names_whole():
    """Cutting names down to the floor would still wrap: nothing is cut."""
    width = MIN_SHRUNK_WIDTH * 2 + 10 + 4 - 1
    lines = fitted_table(ROWS, width, shrinkable=(0, 1))
    assert "CHEVALIER-DUPONT" in lines[2]


def test_short_cell_is_not_touched_and_long_cell_ends_with_an_ellipsis():
    """`shortened` keeps the width exactly."""
    assert shortened("ROR", 6) == "ROR"
    assert shortened("GARNIER", 6) == "GARNI…"
