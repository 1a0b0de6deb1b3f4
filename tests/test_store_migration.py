"""A store made at schema 12 (one row per event) reads the same once its messages hold their events."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import cli, raw

from fmt_plugin.installation import open_installation

FIXTURE = Path(__file__).parent / "data" / "store_v12"
EXPECTED = json.loads((FIXTURE / "expected.json").read_text(encoding="utf-8"))


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A copy of the schema-12 store, its key 0600 again (git keeps no modes)."""
    folder = tmp_path / "store"
    shutil.copytree(FIXTURE, folder)
    (folder / "fmt.key").chmod(0o600)
    return folder / "fmt.toml"


def facts(config: Path) -> dict:
    """What `tests/data/store_v12/README.md` says was read with the schema-12 code."""
    with open_installation(config) as installation:
        store = installation.store
        inbox = store.inbox
        patients = store.patient_ids(active_only=False)
        ids = [r[0] for r in store._conn.execute("SELECT message_id FROM hl7_messages")]
        return {
            "schema": store.schema_version,
            "counts": inbox.counts(),
            "current_events": {
                p: [
                    [e.event_id, e.message_id, e.state.value, e.event.to_dict()]
                    for e in inbox.events_of(p)
                ]
                for p in patients
            },
            "events_by_message": {
                str(m): [
                    [e.event_id, e.state.value] for e in inbox.events_of_message(m)
                ]
                for m in ids
            },
            "audit_entries": store.verify_audit().entries,
            "event_count": inbox.event_count(),
        }


def test_the_fixture_is_a_schema_12_store_with_every_event_state():
    assert EXPECTED["schema"] == 12
    states = {s for events in EXPECTED["events_by_message"].values() for _, s in events}
    assert states == {"current", "superseded", "withdrawn"}


def test_the_migrated_store_has_the_same_message_counts(config):
    assert facts(config)["counts"] == EXPECTED["counts"]


def test_every_patient_has_the_same_current_events_after_the_migration(config):
    assert facts(config)["current_events"] == EXPECTED["current_events"]


def test_every_message_keeps_its_events_their_ids_and_states(config):
    assert facts(config)["events_by_message"] == EXPECTED["events_by_message"]


def test_no_event_is_lost_or_left_in_the_old_table(config):
    expected = sum(len(events) for events in EXPECTED["events_by_message"].values())
    assert facts(config)["event_count"] == expected
    with raw(config.parent / "fmt.sqlite3") as conn:
        assert conn.execute("SELECT count(*) FROM clinical_events").fetchone()[0] == 0


def test_the_audit_chain_is_unchanged_and_verifies(config):
    found = facts(config)
    assert found["schema"] == 13
    assert found["audit_entries"] == EXPECTED["audit_entries"]
    verify = cli(config.parent, "--config", config, "audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_the_statuses_of_every_patient_are_the_same(config):
    result = cli(
        config.parent, "--config", config, "report", "--as-of", "2026-06-01",
        "--format", "json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    before = json.loads(
        (FIXTURE / "report-2026-06-01.json").read_text(encoding="utf-8")
    )
    assert json.loads(result.stdout) == before


def test_new_messages_after_the_migration_number_their_events_after_the_old_ones(
    config,
):
    last = max(
        e[0] for events in EXPECTED["events_by_message"].values() for e in events
    )
    message = (
        FIXTURE.parent / "public_scenario" / "messages" / "q05_glu.hl7"
    ).read_bytes()
    with open_installation(config) as installation:
        roster_patient = installation.store.patient_ids()[0]
        ins = installation.store.get_patient(roster_patient).ins
    text = (
        message.decode().replace("271020905620548", ins).replace("Q05", roster_patient)
    )
    path = config.parent / "nouveau.hl7"
    path.write_text(text.replace("H00039", "NEW1"), encoding="utf-8")
    result = cli(config.parent, "--config", config, "import", path)
    assert result.returncode == 0, result.stderr
    with open_installation(config) as installation:
        events = installation.store.inbox.events_of(roster_patient)
    assert max(e.event_id for e in events) == last + 1
