"""MédiDossier's own behaviour, on top of the conformance kit's fixtures."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fmt_plugin.evaluation import evaluate_practice, select_rule_pack
from fmt_plugin.model import Patient
from fmt_plugin.recalls.model import (
    Audience,
    DueItem,
    PracticeContact,
    RecallMessage,
)
from fmt_plugin.roster import collect_roster
from fmt_plugin.rules import Status
from fmt_plugin.testing.checks import sync_roster

from fmt_adapter_medidossier.export import PORTAL_FLAG, read_export
from fmt_adapter_medidossier.portal import PortalChannel

EXPORT = Path(__file__).parent / "export"
AS_OF = date(2026, 1, 15)


@pytest.fixture
def fmt_adapter_name():
    return "medidossier"


@pytest.fixture
def fmt_adapter_config():
    return {"export_dir": EXPORT}


def test_local_hba1c_code_counts_for_the_diabetes_follow_up(fmt_installation):
    """A GLYH result in MédiDossier makes the diabetic patient's HbA1c follow-up done."""
    sync_roster(fmt_installation, AS_OF)
    pack = select_rule_pack(fmt_installation.config, fmt_installation.pm)
    evaluation = evaluate_practice(
        fmt_installation.store,
        fmt_installation.pm,
        pack,
        AS_OF,
        patient_ids=["MD-1001"],
    )
    (patient,) = evaluation.evaluations
    assert patient.statuses["suivi_hba1c"].status is Status.FAIT


def test_rejected_records_are_located_by_line_and_field(fmt_plugin_manager):
    """The invalid INS, the impossible birth date and the bad act lines are reported."""
    roster = collect_roster(fmt_plugin_manager, AS_OF)
    located = {
        (problem.path.name, problem.line, problem.column) for problem in roster.problems
    }
    assert located == {
        ("patients.jsonl", 7, "ins"),
        ("patients.jsonl", 8, "naissance"),
        ("actes.jsonl", 12, "type"),
        ("actes.jsonl", 13, "patient"),
    }
    assert "MD-1006" not in {patient.patient_id for patient in roster.patients}


def test_portal_account_becomes_a_flag():
    """Patients with a portal account carry the flag the portal channel looks for."""
    export = read_export(EXPORT)
    with_portal = sorted(
        p.patient_id for p in export.patients if PORTAL_FLAG in p.flags
    )
    assert with_portal == ["MD-1001", "MD-1003"]


def test_c2s_is_read_and_absent_means_no():
    """`"c2s": true` gives the C2S; the records without the field have none."""
    export = read_export(EXPORT)
    assert sorted(p.patient_id for p in export.patients if p.c2s) == ["MD-1003"]


def test_portal_channel_writes_one_file_per_recall_without_identity(tmp_path):
    """Sending twice the same recall leaves one file, naming the patient by id only."""
    patient = Patient(
        patient_id="MD-1001",
        source="medidossier",
        nom="BERNARD",
        flags=frozenset({PORTAL_FLAG}),
    )
    message = RecallMessage(
        recall_id=42,
        message_id="<42@cabinet.example>",
        patient=patient,
        audience=Audience.PATIENT,
        items=(
            DueItem(
                "suivi_hba1c", "Suivi du diabète", "2026-01-15", 1, Status.A_VERIFIER
            ),
        ),
        practice=PracticeContact("Cabinet du Parc", "04 00 00 00 00"),
        created_at=datetime(2026, 1, 15, 9, 0, tzinfo=UTC),
    )
    channel = PortalChannel(tmp_path / "inbox")
    asyncio.run(channel.send(message))
    asyncio.run(channel.send(message))
    (written,) = (tmp_path / "inbox").iterdir()
    content = written.read_text(encoding="utf-8")
    assert json.loads(content)["patient"] == "MD-1001"
    assert "BERNARD" not in content
