"""A day of dashboard use leaves no patient data in a URL, a log line, or a request outside.

The assistant and the GP go through every page family: the lists (searched), the letters, a
patient found with the header's search box, a decision, the quarantine, the recalls, the
charts, the remuneration. Every request the browser made is recorded: each stays on the
dashboard's own address (no font, script or image from outside) and none holds a name, a NIR
or an INS. The service runs in this process, so its log records are all in `caplog`.
"""

from __future__ import annotations

import logging

import pytest
from dashboard_service import log_in
from playwright.sync_api import expect

from fmt_plugin.installation import open_installation
from fmt_plugin.web.listing import PracticeListing

pytestmark = pytest.mark.slow
INDICATOR = "dep_colorectal"


def identities(dashboard) -> list[str]:
    """Every active patient's name, first name and INS (NIR), as a leak would show them."""
    with open_installation(dashboard.config) as installation:
        listing = PracticeListing()
        listing.refresh(installation.store)
        patients = list(listing.patients())
    values = []
    for patient in patients:
        values += [patient.nom, patient.prenom]
        if patient.ins:
            values += [patient.ins, patient.ins[:13]]
    return [value for value in values if len(value) >= 3]


def test_a_day_of_use_keeps_identities_out_of_urls_logs_and_the_network(
    page, dashboard, caplog
):
    caplog.set_level(logging.DEBUG)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    log_in(page, dashboard, "assistante", then=f"/indicateurs/{INDICATOR}")
    search = page.get_by_placeholder("nom prénom")
    first_name = page.locator("table tbody tr td a").first.inner_text()
    search.fill(first_name[:3])
    page.get_by_role("button", name="Rechercher").click()
    expect(page.locator("table tbody tr").first).to_be_visible()
    page.locator("input[type=checkbox][name=patient]").first.check()
    with page.expect_download():
        page.get_by_role("button", name="Imprimer les lettres d'invitation").click()
    for path in ("/", "/indicateurs", "/rappels", "/quarantaine", "/evolution"):
        page.goto(path)
    page.get_by_role("button", name="Se déconnecter").click()

    log_in(page, dashboard, "docteur", then="/remuneration")
    page.locator("#patient-search").fill(first_name[:2])
    suggestion = page.locator("#patient-suggestions a").first
    expect(suggestion).to_be_visible()
    suggestion.click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    page.goto("/audit")

    leaks = identities(dashboard)
    assert requested
    outside = [url for url in requested if not url.startswith(dashboard.url)]
    assert outside == []
    in_urls = [(url, v) for url in requested for v in leaks if v.upper() in url.upper()]
    assert in_urls == []
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "GET /patients/" in logged  # the access log was captured
    assert [value for value in leaks if value in logged] == []
