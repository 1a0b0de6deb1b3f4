"""The collector settings of serve and import: applied within, restored after."""

from __future__ import annotations

import gc

from fmt_plugin.gc_tuning import YOUNG_THRESHOLD, tuned_for_throughput


def test_objects_alive_at_start_are_frozen_within() -> None:
    """Start-up objects are kept out of the collector's sweeps while the work runs."""
    before = gc.get_freeze_count()
    with tuned_for_throughput():
        assert gc.get_freeze_count() > before
    assert gc.get_freeze_count() == before


def test_young_threshold_is_raised_then_restored() -> None:
    """The young generation is collected less often within, as before afterwards."""
    threshold = gc.get_threshold()
    with tuned_for_throughput():
        assert gc.get_threshold() == (YOUNG_THRESHOLD, threshold[1], threshold[2])
    assert gc.get_threshold() == threshold


def test_settings_are_restored_when_the_work_fails() -> None:
    """An exception inside leaves the collector as it found it."""
    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    try:
        with tuned_for_throughput():
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert gc.get_threshold() == threshold
    assert gc.get_freeze_count() == frozen
