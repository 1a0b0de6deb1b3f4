"""The patient search and the "Suivi prévention" page in a real browser: decisions, roles, audit."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from contextlib import closing
from dataclasses import dataclass

import pytest
from dashboard_service import DEMO_AS_OF, log_in, screenshot
from playwright.sync_api import expect

from fmt_plugin.evaluation import evaluate_practice, select_rule_pack
from fmt_plugin.installation import open_installation
from fmt_plugin.rules.model import Status
from fmt_plugin.views.patient_sheet import IndicatorSheet, indicator_groups
from fmt_plugin.web.listing import PracticeListing
from fmt_plugin.web.pages.patients import label as suggestion_label

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Chosen:
    """A demo patient the test works on, and what the sheet says of them."""

    patient_id: str
    prefix: str
    name: str
    #: As the suggestions list the patient (with the birth date: the demo has namesakes).
    label: str
    sheets: list[IndicatorSheet]

    def first(self, status: Status) -> IndicatorSheet:
        return next(s for s in self.sheets if s.status.status is status)


def choose_patient(dashboard) -> Chosen:
    """A patient with a `fait` indicator (and its next date) and one `à vérifier`, whom
    the first two letters of their name bring up in the suggestions."""
    with open_installation(dashboard.config) as installation:
        listing = PracticeListing()
        listing.refresh(installation.store)
        pack = select_rule_pack(installation.config, installation.pm)
        for listed in sorted(listing.patients(), key=lambda p: p.patient_id):
            prefix = listed.nom[:2]
            if listed not in listing.search(prefix, limit=10):
                continue
            practice = evaluate_practice(
                installation.store,
                installation.pm,
                pack,
                DEMO_AS_OF,
                patient_ids=[listed.patient_id],
            )
            sheets = [
                sheet
                for _, group in indicator_groups(
                    pack,
                    practice.patients[listed.patient_id],
                    practice.evaluations[0],
                )
                for sheet in group
            ]
            statuses = {sheet.status.status for sheet in sheets}
            done = [s for s in sheets if s.status.status is Status.FAIT and s.acts]
            if Status.A_VERIFIER in statuses and any(s.status.due for s in done):
                name = f"{listed.nom} {listed.prenom}"
                return Chosen(
                    listed.patient_id, prefix, name, suggestion_label(listed), sheets
                )
    raise AssertionError("no demo patient fits")


def overrides_of(dashboard, patient_id: str):
    with open_installation(dashboard.config) as installation:
        return installation.store.overrides(patient_id)


def indicator(page, sheet: IndicatorSheet):
    return page.locator(f"#indicateur-{sheet.indicator.id}")


def decide(page, sheet: IndicatorSheet, kind: str, reason: str) -> None:
    section = indicator(page, sheet)
    section.get_by_text("Enregistrer une décision").click()
    section.get_by_label("Décision", exact=True).select_option(label=kind)
    section.get_by_label("Motif").fill(reason)
    section.get_by_role("button", name="Enregistrer la décision").click()


def csrf_of(page) -> str:
    return page.locator('input[name="csrf"]').first.get_attribute("value")


def test_the_gp_finds_a_patient_decides_and_the_audit_log_holds(page, dashboard):
    """Two letters, a suggestion, the page with every indicator; refus recorded then
    revoked, an exclusion makes the status `Exclu(e)`; `audit verify` passes."""
    chosen = choose_patient(dashboard)
    log_in(page, dashboard, then="/etat")
    page.locator("#patient-search").fill(chosen.prefix)
    suggestion = page.locator("#patient-suggestions a", has_text=chosen.label)
    expect(suggestion).to_be_visible()
    suggestion.click()
    expect(page).to_have_url(re.compile(rf"/patients/{chosen.patient_id}$"))
    assert chosen.name.split()[0] not in page.url
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Suivi prévention — {chosen.name}"
    )
    for sheet in chosen.sheets:
        section = indicator(page, sheet)
        expect(section.get_by_role("heading", level=3)).to_have_text(
            sheet.indicator.label
        )
        expect(section.locator(".badge")).to_have_text(sheet.status.label)
        for line in (*sheet.details, *sheet.acts):
            expect(section.get_by_text(line, exact=True)).to_be_visible()
    done = next(s for s in chosen.sheets if s.status.status is Status.FAIT and s.acts)
    expect(indicator(page, done).locator(".details")).to_contain_text("à prévoir : ")
    expect(indicator(page, done).locator(".acts")).to_contain_text(
        f"({done.acts[0].split('(')[1].split(')')[0]})"
    )

    late = chosen.first(Status.A_VERIFIER)
    decide(page, late, "Refus du patient", "ne souhaite pas ce dépistage")
    expect(page.get_by_role("status")).to_contain_text("enregistrée")
    expect(page).to_have_url(re.compile(rf"/patients/{chosen.patient_id}\?decision="))
    expect(indicator(page, late)).to_contain_text(
        "Décision en vigueur : refus du patient"
    )
    expect(indicator(page, late)).to_contain_text("Refus du patient enregistré")
    row = page.locator("table.decisions tbody tr")
    expect(row).to_contain_text("ne souhaite pas ce dépistage")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Révoquer").click()
    expect(page.get_by_role("status")).to_contain_text("révoquée")
    expect(page.get_by_text("Aucune décision en vigueur.")).to_be_visible()

    decide(page, late, "Exclusion médicale", "antécédent de colectomie totale")
    expect(indicator(page, late).locator(".badge")).to_have_text("Exclu(e)")
    screenshot(page, "patient")

    with open_installation(dashboard.config) as installation:
        store = installation.store
        remembered = store.statuses.of([chosen.patient_id])[chosen.patient_id]
        assert remembered[late.indicator.id].status == "exclu"  # the lists agree
        assert [o.kind.value for o in store.overrides(chosen.patient_id)] == [
            "exclusion"
        ]
        store_file = installation.config.store.path
    env = {k: v for k, v in os.environ.items() if k != "FMT_CONFIG"}
    verified = subprocess.run(
        [
            sys.executable,
            *("-m", "fmt_plugin", "audit", "verify"),
            *("--config", str(dashboard.config)),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "Journal d'audit intègre" in verified.stdout
    with closing(sqlite3.connect(store_file)) as db:
        entries = db.execute(
            "SELECT actor, action, target FROM audit_log WHERE action LIKE 'web.%'"
            " OR action LIKE 'override.%'"
        ).fetchall()
    assert ("docteur", "web.patient_view", chosen.patient_id) in entries
    assert ("docteur", "override.add", chosen.patient_id) in entries
    assert ("docteur", "override.revoke", chosen.patient_id) in entries
    searches = [e for e in entries if e[1] == "web.patient_search"]
    assert searches
    assert all(target.isdigit() for _, _, target in searches)  # counts, never text


def test_the_assistant_cannot_record_a_medical_exclusion(page, dashboard):
    """No "exclusion" in the assistant's form; a forged one gets 403 and records nothing."""
    chosen = choose_patient(dashboard)
    late = chosen.first(Status.A_VERIFIER)
    log_in(page, dashboard, "assistante", then=f"/patients/{chosen.patient_id}")
    options = indicator(page, late).locator('select[name="type"] option')
    expect(options).to_have_text(
        ["Refus du patient", "Report des rappels", "Fait ailleurs"]
    )
    forged = page.request.post(
        f"/patients/{chosen.patient_id}/decisions",
        form={
            "csrf": csrf_of(page),
            "indicateur": late.indicator.id,
            "type": "exclusion",
            "motif": "forgé",
        },
    )
    assert forged.status == 403
    assert "ne peut pas enregistrer une décision « exclusion médicale »" in (
        forged.text()
    )
    assert overrides_of(dashboard, chosen.patient_id) == []


def test_a_wrong_decision_form_says_why_and_records_nothing(page, dashboard):
    """Missing reason, bad date, unknown indicator: a French error on the page, no decision;
    an unknown patient is a 404; the search without script lists or opens the patient."""
    chosen = choose_patient(dashboard)
    late = chosen.first(Status.A_VERIFIER)
    log_in(page, dashboard, then=f"/patients/{chosen.patient_id}")
    token = csrf_of(page)
    cases = [
        ({"type": "refus", "motif": "  "}, "motif vide"),
        ({"type": "report", "motif": "vacances", "date": "2026-13-45"}, "invalide"),
        ({"type": "refus", "motif": "x", "indicateur": "dep_inconnu"}, "inconnu"),
    ]
    for fields, words in cases:
        answer = page.request.post(
            f"/patients/{chosen.patient_id}/decisions",
            form={"csrf": token, "indicateur": late.indicator.id, **fields},
        )
        assert answer.status == 400
        assert "Rien n'a été enregistré" in answer.text()
        assert words in answer.text()
    assert overrides_of(dashboard, chosen.patient_id) == []

    missing = page.goto("/patients/P999999")
    assert missing is not None
    assert missing.status == 404
    expect(page.get_by_role("alert")).to_have_text("Patient introuvable.")

    short = page.request.post(
        "/api/patients/recherche",
        data={"q": "a"},
        headers={"X-CSRF-Token": token},
    )
    assert short.json() == []
    listed = page.request.post(
        "/patients/recherche", form={"csrf": token, "q": chosen.prefix}
    )
    assert listed.ok
    assert chosen.label in listed.text()
