"""The recalls, quarantine and journal pages in a real browser, on the demo practice's own queues."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from dashboard_service import log_in, screenshot
from playwright.sync_api import expect

from fmt_plugin.demo.run import demo_practice
from fmt_plugin.hl7.identity import ReceivedIdentity, received_identity
from fmt_plugin.installation import open_installation
from fmt_plugin.recalls.model import Audience, DueItem, PlannedRecall, RecallState
from fmt_plugin.rules.model import Status
from fmt_plugin.timezone import PARIS
from fmt_plugin.views.hl7_inbox import identity_text

pytestmark = pytest.mark.slow


def quarantined(config: Path) -> tuple[int, ReceivedIdentity]:
    """The demo's one quarantined message (a stranger's result) and who its PID names."""
    with open_installation(config) as installation:
        inbox = installation.store.inbox
        (record,) = inbox.quarantined()
        identity = received_identity(inbox.raw(record.message_id))
    assert identity is not None
    return record.message_id, identity


def audit_rows(config: Path, action: str) -> list[tuple[str, str | None, str | None]]:
    with open_installation(config) as installation:
        entries = installation.store.audit_entries(action=action, limit=100)
    return [(e.actor, e.target, e.detail) for e in entries]


def audit_verify(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fmt_plugin", "audit", "verify", "--config", config],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def add_stranger_to_roster(config: Path, identity: ReceivedIdentity) -> tuple[str, str]:
    """The demo stranger the message names joins the roster (as `sync` would do it)."""
    with open_installation(config) as installation:
        store = installation.store
        (stranger,) = (
            p for p in demo_practice(installation).strangers if p.ins == identity.ins
        )
        store.sync_roster([*store.iter_patients(), stranger], actor="test")
    return stranger.patient_id, f"{stranger.nom} {stranger.prenom}"


def an_uncertain_recall(config: Path) -> tuple[int, str]:
    """A recall left `uncertain` by a send cut short, through the outbox's own moves."""
    now = datetime.now(PARIS)
    with open_installation(config) as installation:
        outbox = installation.store.outbox
        patient_id = outbox.get(1).patient_id
        item = DueItem("grippe", "Vaccination grippe", "saison-test", 1, Status.A_VENIR)
        (recall_id,) = outbox.add_planned(
            [PlannedRecall(patient_id, Audience.PATIENT, (item,))],
            now=now,
            message_id_domain="demo.invalid",
        )
        outbox.mark_sending(recall_id, channel="file", now=now)
        outbox.mark_uncertain(recall_id, reason="envoi interrompu", now=now)
    return recall_id, patient_id


def test_the_quarantine_shows_who_and_why_and_a_discarded_message_leaves_it(
    page, dashboard
):
    """The stranger's message names them and the field at fault; discarding needs a reason, is audited."""
    message_id, identity = quarantined(dashboard.config)
    log_in(page, dashboard, "assistante", then="/quarantaine")
    message = page.locator(f'article[data-message="{message_id}"]')
    expect(message.locator(".identity")).to_have_text(identity_text(identity))
    expect(message.locator(".reason")).to_have_text(
        re.compile(r"^patient inconnu du cabinet .*\(champ PID-3\)$")
    )
    expect(page.get_by_role("link", name=re.compile("En attente"))).to_contain_text("1")
    screenshot(page, "quarantaine")

    forged = page.request.post(
        f"{dashboard.url}/quarantaine/{message_id}/ecarter",
        form={"csrf": "forged", "motif": "doublon"},
    )
    assert forged.status == 403
    page.on("dialog", lambda dialog: dialog.accept())
    message.get_by_label("Motif pour écarter").select_option("autre_medecin")
    message.get_by_role("button", name="Écarter").click()
    expect(page.get_by_role("status")).to_contain_text(
        f"Message n° {message_id} écarté"
    )
    expect(page.locator("article.quarantine-message")).to_have_count(0)
    expect(page.get_by_text("Quarantaine vide")).to_be_visible()

    page.get_by_role("link", name=re.compile("Écartés")).click()
    expect(message.locator(".identity")).to_have_text(identity_text(identity))
    expect(message).to_contain_text("par assistante")
    assert audit_rows(dashboard.config, "hl7.discard") == [
        ("assistante", None, f"discarded={message_id} reason=autre_medecin")
    ]
    verified = audit_verify(dashboard.config)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert (identity.family or "?") not in verified.stdout


def test_a_replay_stays_in_quarantine_until_the_patient_joins_then_integrates(
    page, dashboard, caplog
):
    """Replayed before the patient is known: the reason stays; after: integrated, statuses computed."""
    caplog.set_level(logging.DEBUG)
    message_id, identity = quarantined(dashboard.config)
    log_in(page, dashboard, "docteur", then="/quarantaine")
    message = page.locator(f'article[data-message="{message_id}"]')
    message.get_by_role("button", name="Rejouer").click()
    expect(page.get_by_role("alert")).to_contain_text(
        f"Message n° {message_id} rejoué sans succès, il reste en quarantaine : "
        "patient inconnu du cabinet"
    )
    expect(message).to_contain_text("Dernier rejeu")

    patient_id, name = add_stranger_to_roster(dashboard.config, identity)
    message.get_by_role("button", name="Rejouer").click()
    expect(page.get_by_role("status")).to_contain_text(
        f"Message n° {message_id} intégré"
    )
    link = page.get_by_role("status").get_by_role("link")
    expect(link).to_have_attribute("href", f"/patients/{patient_id}")
    expect(link).to_have_text(name)
    expect(page.locator("article.quarantine-message")).to_have_count(0)
    with open_installation(dashboard.config) as installation:
        store = installation.store
        assert store.inbox.get(message_id).state == "accepted"
        assert store.statuses.all().get(patient_id)
    assert f"quarantine replay: message {message_id} accepted" in caplog.text
    for secret in (identity.family, identity.given, identity.ins or "?"):
        assert secret not in caplog.text
    replays = audit_rows(dashboard.config, "hl7.replay")
    assert [actor for actor, _, _ in replays] == ["docteur", "docteur"]
    assert replays[0][2] == f"replayed=1 accepted={message_id}"


def test_recalls_are_counted_by_state_filtered_and_an_uncertain_one_goes_back(
    page, dashboard
):
    """The demo's sent recalls, counted and paged; an uncertain recall is put back in the queue."""
    recall_id, patient_id = an_uncertain_recall(dashboard.config)
    with open_installation(dashboard.config) as installation:
        counts = installation.store.outbox.counts()
        name = installation.store.get_patient(patient_id)
    assert counts["sent"] > 50
    log_in(page, dashboard, "assistante", then="/rappels")
    sent = page.locator('.state-filter a[data-state="envoye"]')
    expect(sent).to_contain_text(f"envoyé {counts['sent']}")
    expect(page.locator('.state-filter a[data-state="incertain"]')).to_contain_text("1")
    expect(page.locator("table.recalls tbody tr")).to_have_count(50)
    expect(page.get_by_text("Page 1 sur")).to_be_visible()

    sent.click()
    expect(page).to_have_url(re.compile(r"/rappels\?etat=envoye$"))
    expect(
        page.get_by_role("heading", name=re.compile("à l'état « envoyé »"))
    ).to_be_visible()
    first = page.locator("table.recalls tbody tr").first
    expect(first).to_contain_text("envoyé le")
    expect(first.get_by_role("link")).to_have_attribute(
        "href", re.compile(r"^/patients/P\d+$")
    )
    screenshot(page, "rappels")

    page.locator('.state-filter a[data-state="echoue"]').click()
    expect(page.get_by_text("Aucun rappel à l'état « échoué ».")).to_be_visible()

    page.locator('.state-filter a[data-state="incertain"]').click()
    row = page.locator(f'tr[data-recall="{recall_id}"]')
    expect(row).to_contain_text("envoi interrompu")
    expect(row.get_by_role("link")).to_have_text(f"{name.nom} {name.prenom}")
    page.on("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Remettre en file").click()
    expect(page.get_by_role("status")).to_have_text(
        f"Rappel n° {recall_id} remis en file d'envoi : il partira au prochain envoi."
    )
    with open_installation(dashboard.config) as installation:
        state = installation.store.outbox.get(recall_id).state
    assert state is not RecallState.UNCERTAIN
    assert ("assistante", patient_id) in [
        (actor, target)
        for actor, target, _ in audit_rows(dashboard.config, "recall.retry")
    ]
    views = audit_rows(dashboard.config, "web.recalls_view")
    assert views[-1] == ("assistante", None, "shown=50 state=all")


def test_the_journal_is_verified_shows_the_login_and_is_refused_to_the_assistant(
    page, dashboard
):
    """The GP sees "Journal intègre" and their own log-in; the assistant gets the 403 page."""
    log_in(page, dashboard, "docteur", then="/audit")
    expect(page.get_by_role("status")).to_contain_text("Journal intègre :")
    login = page.locator('tr[data-action="web.login"]').first
    expect(login).to_contain_text("docteur")
    expect(login).to_contain_text("connexion au tableau de bord")
    expect(login).to_contain_text(re.compile(r"\d\d/\d\d/\d{4} \d\d:\d\d:\d\d"))
    screenshot(page, "journal")

    page.get_by_label("Action").select_option("patient.add")
    page.get_by_role("button", name="Filtrer").click()
    expect(page).to_have_url(re.compile(r"/audit\?action=patient.add$"))
    expect(page.locator("table.audit tbody tr")).to_have_count(50)
    expect(
        page.locator('tr[data-action]:not([data-action="patient.add"])')
    ).to_have_count(0)
    page.get_by_role("link", name="Entrées plus anciennes ›").click()
    expect(page).to_have_url(re.compile(r"/audit\?action=patient.add&avant=\d+$"))

    page.get_by_role("button", name="Se déconnecter").click()
    log_in(page, dashboard, "assistante", then="/etat")
    response = page.goto("/audit")
    assert response is not None
    assert response.status == 403
    expect(page.get_by_role("alert")).to_contain_text("n'est pas ouverte au rôle")
