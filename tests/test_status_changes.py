"""Indicator status changes: the pure diff, the encrypted memory, and `fmt_status_changed` at night."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from conftest import raw

from fmt_plugin.hooks import hookimpl
from fmt_plugin.installation import open_installation
from fmt_plugin.model import StatusChange
from fmt_plugin.recalls import jobs
from fmt_plugin.rules import Override, OverrideKind
from fmt_plugin.status_changes import KnownStatus, status_changes
from fmt_plugin.timezone import PARIS

AS_OF = date(2026, 3, 16)
DUE = date(2027, 1, 1)


def test_an_unchanged_patient_gives_no_change():
    """Same status, same due date: nothing to tell."""
    known = {"vaccin_grippe": KnownStatus("fait", DUE)}
    assert status_changes("P1", known, dict(known), AS_OF) == []


def test_a_new_status_is_a_change_with_old_and_new():
    """a_verifier → fait is reported with both statuses and the new due date."""
    before = {"vaccin_grippe": KnownStatus("a_verifier", None)}
    after = {"vaccin_grippe": KnownStatus("fait", DUE)}
    assert status_changes("P1", before, after, AS_OF) == [
        StatusChange("P1", "vaccin_grippe", "a_verifier", "fait", AS_OF, DUE)
    ]


def test_a_moved_due_date_alone_is_a_change():
    """fait stays fait but a newer act moves the due date: the EHR's date must follow."""
    before = {"depistage_ccu": KnownStatus("fait", DUE)}
    after = {"depistage_ccu": KnownStatus("fait", DUE + timedelta(days=365))}
    (change,) = status_changes("P1", before, after, AS_OF)
    assert (change.old_status, change.new_status, change.due) == (
        "fait",
        "fait",
        DUE + timedelta(days=365),
    )


def test_a_first_evaluation_reports_every_indicator_with_no_old_status():
    """Never evaluated before: each indicator is a change from None."""
    after = {
        "vaccin_grippe": KnownStatus("a_verifier", None),
        "depistage_ccu": KnownStatus("fait", DUE),
    }
    changes = status_changes("P1", None, after, AS_OF)
    assert [(c.indicator, c.old_status) for c in changes] == [
        ("depistage_ccu", None),
        ("vaccin_grippe", None),
    ]


def test_an_indicator_leaving_the_population_is_not_reported():
    """A status that no longer exists (child grown up) has nothing to show: no change."""
    before = {
        "ror": KnownStatus("fait", None),
        "vaccin_grippe": KnownStatus("fait", DUE),
    }
    after = {"vaccin_grippe": KnownStatus("fait", DUE)}
    assert status_changes("P1", before, after, AS_OF) == []


# --- the nightly job ---------------------------------------------------------------------

#: What the recording adapter below was told, in order.
TOLD: list[StatusChange] = []


@hookimpl
def fmt_status_changed(change: StatusChange) -> None:
    """This module as an adapter (`[plugins] modules`): keep what it is told."""
    TOLD.append(change)


NIGHT = datetime(2026, 3, 16, 2, 0, tzinfo=PARIS)


@pytest.fixture
def config(scenario_config: Path) -> Path:
    """The public scenario with this module registered as an adapter."""
    text = scenario_config.read_text(encoding="utf-8")
    scenario_config.write_text(
        text.replace("modules = []", 'modules = ["test_status_changes"]'),
        encoding="utf-8",
    )
    TOLD.clear()
    return scenario_config


def test_the_first_night_tells_every_status_as_new(config: Path):
    """First snapshot: every indicator of every patient, old status None."""
    jobs.run_snapshot(config, NIGHT)
    assert TOLD
    assert {change.old_status for change in TOLD} == {None}
    assert {change.as_of for change in TOLD} == {NIGHT.date()}


def test_a_second_night_without_news_tells_nothing(config: Path):
    """Nothing happened since: no notification."""
    jobs.run_snapshot(config, NIGHT)
    TOLD.clear()
    jobs.run_snapshot(config, NIGHT + timedelta(hours=1))
    assert TOLD == []


def test_a_practice_decision_is_told_the_next_night(config: Path):
    """An exclusion recorded after a snapshot is one change, to `exclu`, at the next one."""
    jobs.run_snapshot(config, NIGHT)
    first = TOLD[0]
    TOLD.clear()
    with open_installation(config) as installation:
        installation.store.add_override(
            Override(
                first.patient_id,
                first.indicator,
                OverrideKind.EXCLUSION,
                author="Dr Test",
                recorded_on=NIGHT.date(),
                reason="hors population",
            ),
            actor="test",
        )
    # The same day, so that no due date passes in between: the decision is the only news.
    jobs.run_snapshot(config, NIGHT + timedelta(hours=1))
    assert [(c.patient_id, c.indicator, c.new_status) for c in TOLD] == [
        (first.patient_id, first.indicator, "exclu")
    ]
    assert TOLD[0].old_status == first.new_status


def test_remembered_statuses_are_encrypted(config: Path):
    """No indicator name or status is readable in the database file."""
    jobs.run_snapshot(config, NIGHT)
    with raw(config.parent / "fmt.sqlite3") as conn:
        payloads = [
            row[0] for row in conn.execute("SELECT payload FROM indicator_statuses")
        ]
    assert payloads
    assert not any(b"a_verifier" in p or b"fait" in p for p in payloads)


def test_remembered_statuses_keep_the_last_act_without_making_it_a_change(config: Path):
    """The last act and its code are stored for the lists; an act alone is no change."""
    jobs.run_snapshot(config, NIGHT)
    with open_installation(config) as installation:
        remembered = installation.store.statuses.all()
    done = [
        known
        for statuses in remembered.values()
        for known in statuses.values()
        if known.status == "fait"
    ]
    assert done
    assert all(known.last_act is not None and known.last_code for known in done)
    assert KnownStatus("fait", DUE, last_act=AS_OF) == KnownStatus("fait", DUE)


def test_a_few_patients_are_read_back_without_the_others(config: Path):
    """`statuses.of(ids)` reads those rows only; unknown ids are absent."""
    jobs.run_snapshot(config, NIGHT)
    with open_installation(config) as installation:
        every = installation.store.statuses.all()
        some = sorted(every)[:2]
        assert installation.store.statuses.of([*some, "nobody"]) == {
            patient_id: every[patient_id] for patient_id in some
        }


def test_each_replacement_gets_a_new_revision_even_for_the_newest_row(config: Path):
    """`written_since` sees a row replaced twice in a row (AUTOINCREMENT, no rowid reuse)."""
    jobs.run_snapshot(config, NIGHT)
    with open_installation(config) as installation:
        statuses = installation.store.statuses
        revision, _ = statuses.written_since(0)
        newest = max(statuses.all())
        row = {newest: {"x": KnownStatus("fait", None)}}
        for _ in range(2):
            statuses.replace(row, evaluated_on=AS_OF)
            revision, changed = statuses.written_since(revision)
            assert list(changed) == [newest]
