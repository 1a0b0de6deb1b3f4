"""The pure parts of the recalls, quarantine and journal pages: words, labels, locations, discard reasons."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fmt_plugin.commands.recalls import STATES
from fmt_plugin.model import Patient
from fmt_plugin.quarantine import DISCARD_REASONS, discard_quarantined
from fmt_plugin.recalls.model import RecallState
from fmt_plugin.storage import KeyRing, Store
from fmt_plugin.storage.audit import AuditReport
from fmt_plugin.views.audit_log import (
    ACTION_LABELS,
    action_label,
    audit_time,
    report_text,
)
from fmt_plugin.views.hl7_inbox import field_location
from fmt_plugin.web.pages.recalls import STATE_WORDS, state_word

SOURCES = Path(__file__).parent.parent / "fmt_plugin"
#: `action="patient.add"` and `audit=("user.unlock", …)`: how the code names what it audits.
ACTION_LITERAL = re.compile(r'(?:action=|audit=\()"([a-z0-9_]+\.[a-z0-9_]+)"')


def test_the_state_words_in_urls_are_those_of_recalls_list_etat():
    """`/rappels?etat=echoue` takes the very words `recalls list --etat` takes."""
    assert set(STATE_WORDS) == set(STATES.shown.values())
    assert STATE_WORDS["echoue"] is RecallState.FAILED
    assert state_word(RecallState.SENDING) == "envoi_en_cours"


@pytest.mark.parametrize(
    ("location", "shown"),
    [("PID^1^3", "PID-3"), ("OBX^2^5", "OBX-5"), ("MSH^1", "MSH"), ("", "")],
)
def test_an_err_location_reads_as_segment_and_field(location, shown):
    """ERR-2 `PID^1^3` is shown as the field a person looks for: PID-3."""
    assert field_location(location) == shown


def test_every_audited_action_of_the_code_has_french_words():
    """Each `action="…"` of fmt_plugin, and each recall transition, has a label."""
    found = {
        match
        for path in SOURCES.rglob("*.py")
        for match in ACTION_LITERAL.findall(path.read_text("utf-8"))
    }
    found |= {f"recall.{state}" for state in RecallState if state != "planned"}
    assert "web.login" in found
    assert found - set(ACTION_LABELS) == set()


def test_an_unknown_action_shows_its_code():
    """A code without words yet is shown as it is, never hidden."""
    assert action_label("web.login") == "connexion au tableau de bord"
    assert action_label("vendor.thing") == "vendor.thing"


def test_entry_times_read_on_the_paris_clock_to_the_second():
    """13:05:07 UTC on 15 March 2026 is 14:05:07 in Paris; an unreadable time is `?`."""
    assert audit_time(datetime(2026, 3, 15, 13, 5, 7, tzinfo=UTC)) == (
        "15/03/2026 14:05:07"
    )
    assert audit_time(None) == "?"


def test_the_verification_reads_intact_or_names_the_broken_entry():
    """An intact chain gives its count; a broken one its first bad entry and why."""
    intact = report_text(AuditReport(True, 1234, None, None))
    assert intact == "Journal intègre : 1\u202f234 entrées vérifiées."
    broken = report_text(AuditReport(False, 12, 7, "entrée modifiée"))
    assert broken.startswith("Journal ROMPU à l'entrée n° 7 : entrée modifiée.")


def test_a_discard_reason_outside_the_list_is_refused_and_nothing_written(
    store_path: Path, keyring: KeyRing
):
    """Only the codes of DISCARD_REASONS reach the audit log (it is in clear)."""
    with Store.create(store_path, keyring, actor="test") as store:
        store.sync_roster([Patient("P001", "csv", nom="QUASIMODO")], actor="test")
        before = store.audit_entries(limit=1)[0].seq
        with pytest.raises(ValueError, match="discard reason"):
            discard_quarantined(
                store, [1], actor="test", at=datetime.now(UTC), reason="Mme QUASIMODO"
            )
        assert store.audit_entries(limit=1)[0].seq == before
        assert "doublon" in DISCARD_REASONS
        discard_quarantined(
            store, [1], actor="test", at=datetime.now(UTC), reason="doublon"
        )
        (entry,) = store.audit_entries(limit=1, action="hl7.discard")
    assert entry.detail == "discarded=1 reason=doublon"
