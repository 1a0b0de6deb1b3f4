"""Remember each patient's indicator statuses and tell the adapters what changed (`fmt_status_changed`).

Run by the nightly snapshot job on the evaluation it already made: the statuses are compared
with those remembered from the previous run, the new ones replace them (encrypted), and each
change is passed to `fmt_status_changed` after that commit, as the hook promises.
"""

from __future__ import annotations

import logging

import pluggy

from fmt_plugin.evaluation import PracticeEvaluation
from fmt_plugin.status_changes import practice_changes
from fmt_plugin.storage import Store

log = logging.getLogger(__name__)


def track_status_changes(
    store: Store, pm: pluggy.PluginManager, practice: PracticeEvaluation
) -> int:
    """Record the practice's statuses, notify every change; return how many changed.

    Only the evaluated patients' previous statuses are read: a one-patient evaluation
    (the dashboard's patient page) costs one row, not the whole practice.
    """
    previous = store.statuses.of(e.patient_id for e in practice.evaluations)
    changes, remembered = practice_changes(previous, practice.evaluations)
    store.statuses.replace(remembered, evaluated_on=practice.as_of)
    failures = 0
    for change in changes:
        try:
            pm.hook.fmt_status_changed(change=change)
        except Exception as exc:  # noqa: BLE001 -- an adapter's bug must not stop the others
            failures += 1
            # The type only: an adapter's exception text may quote what it read.
            log.error("an adapter failed in fmt_status_changed: %s", type(exc).__name__)
    log.info(
        "indicator statuses recorded for %d patient(s): %d change(s), %d notification "
        "failure(s)",
        len(remembered),
        len(changes),
        failures,
    )
    return len(changes)
