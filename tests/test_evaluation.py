"""Evaluating a practice: acts from the adapters, vendor code translation, stored decisions."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from fmt_plugin import hookimpl
from fmt_plugin.evaluation import evaluate_practice, select_rule_pack
from fmt_plugin.installation import Installation, open_installation
from fmt_plugin.model import Act, Code
from fmt_plugin.roster import collect_roster
from fmt_plugin.rules import Override, OverrideKind, Status

AS_OF = date(2026, 3, 15)


class CipVaccinations:
    """A vendor that records vaccinations as CIP13 product codes and translates them."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    @hookimpl
    def fmt_patient_acts(self, patient_id: str, since: date | None) -> list[Act] | None:
        if patient_id != "Q06":
            return None
        return [
            Act("Q06", date(2025, 11, 3), "CIP13", "3400930000001"),  # a covid vaccine
            Act("Q06", date(2025, 11, 3), "CVX", "168"),  # already a pack code
        ]

    @hookimpl
    def fmt_translate_code(self, system: str, code: str) -> Code | None:
        self.asked.append((system, code))
        if (system, code) == ("CIP13", "3400930000001"):
            return Code("CVX", "309")
        return None


@pytest.fixture
def opened(installation: Path) -> Installation:
    """The scenario installation, roster synced, opened with its store and plugins."""
    inst = open_installation(installation)
    inst.store.sync_roster(collect_roster(inst.pm, AS_OF).patients, actor="test")
    return inst


def statuses(inst: Installation, patient_id: str) -> dict:
    pack = select_rule_pack(inst.config, inst.pm)
    practice = evaluate_practice(
        inst.store, inst.pm, pack, AS_OF, patient_ids=[patient_id]
    )
    return practice.evaluations[0].statuses


def test_acts_from_the_csv_adapter_count(opened):
    """Q07's mammography from acts.csv makes dep_sein fait."""
    with opened:
        assert statuses(opened, "Q07")["dep_sein"].status is Status.FAIT


def test_a_vendor_code_is_translated_before_evaluation(opened):
    """A CIP13 covid vaccine translated by the vendor's hook counts as CVX 309."""
    vendor = CipVaccinations()
    opened.pm.register(vendor, name="cip")
    with opened:
        covid = statuses(opened, "Q06")["vacc_covid"]
    assert covid.status is Status.FAIT
    assert [(e.system, e.code) for e in covid.evidence] == [("CVX", "309")]


def test_codes_the_pack_knows_are_not_sent_for_translation(opened):
    """CVX 168 is a pack code: the translation hook is only asked about the CIP13 code."""
    vendor = CipVaccinations()
    opened.pm.register(vendor, name="cip")
    with opened:
        statuses(opened, "Q06")
    assert vendor.asked == [("CIP13", "3400930000001")]


def test_stored_decisions_are_applied(opened):
    """An exclusion recorded in the store turns the indicator into exclu."""
    with opened:
        opened.store.add_override(
            Override(
                "Q05", "dep_sein", OverrideKind.EXCLUSION, "Dr M", date(2026, 1, 5)
            ),
            actor="test",
        )
        assert statuses(opened, "Q05")["dep_sein"].status is Status.EXCLU


def test_inactive_patients_are_not_evaluated(opened):
    """A patient who left the roster is not in the practice's evaluation."""
    with opened:
        roster = [p for p in opened.store.iter_patients() if p.patient_id != "Q05"]
        opened.store.sync_roster(roster, actor="test")
        pack = select_rule_pack(opened.config, opened.pm)
        practice = evaluate_practice(opened.store, opened.pm, pack, AS_OF)
    assert "Q05" not in {e.patient_id for e in practice.evaluations}
    assert len(practice.evaluations) == 7
