"""How long a command ran, and a change of taux, as the practice reads them."""

from __future__ import annotations

import pytest

from fmt_plugin.views import french


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.84, "0,8 s"),
        (4.2, "4,2 s"),
        (3.0, "3 s"),
        (9.96, "10 s"),
        (12.7, "12 s"),
        (125, "2 min 05 s"),
        (3725, "1 h 02 min"),
    ],
)
def test_elapsed_time_reads_as_seconds_minutes_or_hours(seconds, text):
    """Tenths under ten seconds, then whole seconds, minutes, hours."""
    assert french.elapsed(seconds) == text


@pytest.mark.parametrize(
    ("change", "text"), [(0.025, "+2,5 pts"), (-0.1, "-10,0 pts"), (0.0, "+0,0 pts")]
)
def test_a_change_of_taux_is_signed_points_with_a_decimal_comma(change, text):
    """From 40 % to 42,5 %: `+2,5 pts`."""
    assert french.points(change) == text
