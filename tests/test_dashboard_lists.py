"""The lists per indicator in a real browser: counts, filter, sort, pages, search, real time."""

from __future__ import annotations

import re
import socket
import sqlite3
import time
from contextlib import closing
from datetime import datetime, timedelta

import pytest
from dashboard_service import log_in, screenshot
from playwright.sync_api import expect

from fmt_plugin.demo.hl7_messages import message
from fmt_plugin.demo.records import LabReport, Observation
from fmt_plugin.hl7.er7 import parse_message
from fmt_plugin.installation import open_installation
from fmt_plugin.mllp.framing import END_BLOCK, frame
from fmt_plugin.timezone import PARIS
from fmt_plugin.web.listing import PracticeListing

pytestmark = pytest.mark.slow

#: The demo's largest list: more than one page of 50.
LONG_LIST = "dep_diabete"
HBA1C_LOINC = "4548-4"
#: How long the test waits for a received result to show in the list.
REAL_TIME_S = 15


def expected_listing(dashboard) -> PracticeListing:
    """The practice as the store holds it, read apart from the dashboard."""
    listing = PracticeListing()
    with open_installation(dashboard.config) as installation:
        listing.refresh(installation.store)
    return listing


def audited_views(dashboard) -> list[tuple[str, str, str]]:
    """The `web.list_view` entries of the audit log: (actor, target, detail)."""
    with closing(sqlite3.connect(dashboard.folder / "fmt.sqlite3")) as conn:
        return conn.execute(
            "SELECT actor, target, detail FROM audit_log"
            " WHERE action = 'web.list_view' ORDER BY seq"
        ).fetchall()


def send_over_mllp(port: int, raw: bytes) -> str:
    """Send one message over a real TCP connection; MSA-1 of the ACK.

    A plain socket: Playwright's sync API holds this thread's event loop.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
        client.sendall(frame(raw))
        answer = b""
        while not answer.endswith(END_BLOCK):
            chunk = client.recv(4096)
            assert chunk, "the service closed the connection without an ACK"
            answer += chunk
    msa = parse_message(answer[1 : -len(END_BLOCK)]).first("MSA")
    assert msa is not None
    return msa.value(1)


def test_the_index_shows_the_fifteen_indicators_with_their_counts(page, dashboard):
    """ "Listes" shows each indicator of the pack with its counts, linking to its list."""
    listing = expected_listing(dashboard)
    hba1c = [known.status for _, known in listing.concerned("suivi_hba1c")]
    log_in(page, dashboard, "assistante", then="/indicateurs")
    rows = page.locator("tr[data-indicator]")
    expect(rows).to_have_count(15)
    row = page.locator('tr[data-indicator="suivi_hba1c"]')
    expect(row.locator("td").nth(0)).to_have_text(str(hba1c.count("fait")))
    expect(row.locator("td").nth(1)).to_have_text(str(hba1c.count("a_verifier")))
    row.get_by_role("link", name="Suivi du diabète par dosage HbA1c").click()
    expect(page).to_have_url(re.compile(r"/indicateurs/suivi_hba1c$"))
    expect(page.locator("tbody tr")).to_have_count(len(hba1c))


def test_a_list_is_filtered_sorted_and_paged(page, dashboard):
    """Status filter, sort by a column header (both orders) and the pager, with counts."""
    listing = expected_listing(dashboard)
    statuses = [known.status for _, known in listing.concerned(LONG_LIST)]
    total = len(statuses)
    assert total > 50, "the demo list must need two pages"
    log_in(page, dashboard, "assistante", then=f"/indicateurs/{LONG_LIST}")
    rows = page.locator("table.patients tbody tr")
    expect(rows).to_have_count(50)
    expect(page.locator(".pager .page-of")).to_have_text("Page 1 sur 2")
    expect(page.get_by_role("status")).to_contain_text(f"{total} patients")
    first_page = set(rows.evaluate_all("rs => rs.map(r => r.dataset.patient)"))

    page.get_by_role("link", name="Suivante").click()
    expect(page.locator(".pager .page-of")).to_have_text("Page 2 sur 2")
    expect(rows).to_have_count(total - 50)
    second_page = set(rows.evaluate_all("rs => rs.map(r => r.dataset.patient)"))
    assert not first_page & second_page

    to_check = statuses.count("a_verifier")
    page.get_by_role("link", name=f"À vérifier ({to_check})").click()
    expect(page).to_have_url(re.compile(r"\?statut=a_verifier$"))
    expect(rows).to_have_count(to_check)
    expect(rows.locator("td.statut .badge")).to_have_text(["À vérifier"] * to_check)

    page.get_by_role("link", name="Âge").click()
    expect(page.locator('th[aria-sort="ascending"]')).to_contain_text("Âge")
    ages = [int(a.split()[0]) for a in rows.locator("td.age").all_inner_texts()]
    assert ages == sorted(ages)
    page.get_by_role("link", name="Âge ▲").click()
    expect(page.locator('th[aria-sort="descending"]')).to_contain_text("Âge")
    ages = [int(a.split()[0]) for a in rows.locator("td.age").all_inner_texts()]
    assert ages == sorted(ages, reverse=True)
    assert "statut=a_verifier" in page.url
    screenshot(page, "liste")
    assert audited_views(dashboard)[-1] == (
        "assistante",
        LONG_LIST,
        f"{to_check} patient(s)",
    )


def test_a_search_by_name_narrows_the_list_without_the_name_in_the_url(page, dashboard):
    """The search is posted, kept in the session, shown with "Effacer", and never in a URL."""
    log_in(page, dashboard, "assistante", then=f"/indicateurs/{LONG_LIST}")
    rows = page.locator("table.patients tbody tr")
    expect(rows).to_have_count(50)
    nom = rows.first.locator("td.nom").inner_text()
    prenom = rows.first.locator("td.prenom").inner_text()
    typed = f"{nom[:3].lower()} {prenom[:2].lower()}"
    page.get_by_label("Rechercher dans la liste").fill(typed)
    page.get_by_role("button", name="Rechercher").click()
    expect(page.locator(".current-search")).to_contain_text(f"« {typed} »")
    assert page.url.endswith(f"/indicateurs/{LONG_LIST}")
    assert nom.lower() not in page.url.lower()
    noms = rows.locator("td.nom").all_inner_texts()
    prenoms = rows.locator("td.prenom").all_inner_texts()
    assert 1 <= len(noms) < 50
    for found_nom, found_prenom in zip(noms, prenoms, strict=True):
        words = f"{found_nom} {found_prenom}".lower().replace("-", " ").split()
        assert any(w.startswith(nom[:3].lower()) for w in words)
    page.get_by_role("button", name="Effacer").click()
    expect(rows).to_have_count(50)
    expect(page.locator(".current-search")).to_have_count(0)


def test_a_received_result_turns_the_patient_fait_in_the_list(page, dashboard):
    """An HbA1c sent over MLLP makes a diabetic `à vérifier` show "Fait", no reload asked."""
    log_in(
        page, dashboard, "assistante", then="/indicateurs/suivi_hba1c?statut=a_verifier"
    )
    patient_id = page.locator("table.patients tbody tr").first.get_attribute(
        "data-patient"
    )
    assert patient_id is not None
    with open_installation(dashboard.config) as installation:
        patient = installation.store.get_patient(patient_id)
    assert patient is not None
    # Taken an hour ago (real time): the service evaluates at the real date.
    taken = datetime.now(PARIS).replace(microsecond=0) - timedelta(hours=1)
    report = LabReport(
        patient=patient,
        sender=("LABO", "BIOLAB"),
        observed=taken,
        sent=taken,
        observations=(
            Observation(HBA1C_LOINC, "HbA1c", "6.9", unit="%", reference_range="4-6"),
        ),
    )
    raw = message(report, "LISTTEST0001", 0)
    assert send_over_mllp(dashboard.mllp_port, raw) == "AA"

    page.goto("/indicateurs/suivi_hba1c")
    badge = page.locator(f'tr[data-patient="{patient_id}"] td.statut .badge')
    deadline = time.monotonic() + REAL_TIME_S
    while True:
        try:
            expect(badge).to_have_text("Fait", timeout=1_000)
            break
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            page.reload()
    row = page.locator(f'tr[data-patient="{patient_id}"]')
    expect(row.locator("td.dernier-acte")).to_contain_text(HBA1C_LOINC)
