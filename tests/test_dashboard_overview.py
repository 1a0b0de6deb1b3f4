"""The GP at month end, in a real browser: the home page, "Évolution" and "Rémunération"."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import date
from decimal import Decimal

import pytest
from dashboard_service import log_in, screenshot
from playwright.sync_api import expect

from fmt_plugin.views import french

pytestmark = pytest.mark.slow


def fmt_plugin(dashboard, *args: str) -> str:
    """`fmt-plugin ARGS --config` on the running practice (SQLite WAL: the CLI reads beside
    the service), its standard output."""
    env = {k: v for k, v in os.environ.items() if k != "FMT_CONFIG"}
    result = subprocess.run(
        [sys.executable, "-m", "fmt_plugin", *args, "--config", str(dashboard.config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def cells(row, name: str) -> str:
    return row.locator(f"td.{name}").inner_text().strip()


def test_the_home_page_counts_the_fifteen_indicators_as_the_report_does(
    page, dashboard
):
    """After the nightly run, `/` shows each taux, fait/(fait + à vérifier), the counts and
    the euros that `fmt-plugin report --format json` gives for the same day."""
    log_in(page, dashboard, then="/")
    rows = page.locator("table.indicators tbody tr")
    expect(rows).to_have_count(15)
    expect(page.locator("#not-evaluated")).to_have_count(0)
    evaluated = re.search(
        r"(\d\d)/(\d\d)/(\d{4})", page.locator("#evaluated-on").inner_text()
    )
    assert evaluated is not None
    as_of = date(int(evaluated[3]), int(evaluated[2]), int(evaluated[1]))
    report = json.loads(
        fmt_plugin(
            dashboard, "report", "--format", "json", "--as-of", as_of.isoformat()
        )
    )
    assert list(report["rates"]) == [
        rows.nth(i).get_attribute("data-indicator") for i in range(15)
    ]
    for i, (code, rate) in enumerate(report["rates"].items()):
        row = rows.nth(i)
        assert row.get_by_role("link").get_attribute("href") == f"/indicateurs/{code}"
        taux = rate["taux"]
        assert cells(row, "taux") == french.percent(taux), code
        assert cells(row, "fraction") == (
            f"{french.number(rate['fait'])} / "
            f"{french.number(rate['fait'] + rate['a_verifier'])}"
        ), code
        for status in ("fait", "a_venir", "exclu", "hors_fmt"):
            assert cells(row, status) == french.number(rate[status]), (code, status)
        assert cells(row, "a_verifier").startswith(french.number(rate["a_verifier"]))
        if rate["rattrapage"]:
            assert f"(dont {rate['rattrapage']})" in cells(row, "a_verifier")
    potential = report["potentiel_fmt"]
    expect(page.locator("#earned")).to_have_text(french.euros(potential["acquis_eur"]))
    expect(page.locator("#possible")).to_have_text(
        french.euros(potential["manque_eur"])
    )
    # Counts and euros only: no patient's identifier, hence no name either.
    html = page.content()
    assert not [p for p in report["patients"] if p["patient_id"] in html]
    screenshot(page, "tableau-de-bord")


def test_evolution_charts_the_three_years_of_monthly_snapshots(page, dashboard):
    """The overall chart has a point per snapshot (36 month ends), as many as its table's
    rows, French months, and one small chart per indicator; an indicator can be picked."""
    log_in(page, dashboard, then="/evolution")
    overall = page.locator("figure[data-chart='ensemble'] svg")
    expect(overall).to_have_attribute("role", "img")
    points = overall.locator("circle.point").count()
    assert points >= 36
    expect(page.locator("section.main-chart details tbody tr")).to_have_count(points)
    expect(overall.locator("text.month").first).to_have_text("janv. 2024")
    expect(page.locator(".small-multiples figure svg")).to_have_count(15)
    screenshot(page, "evolution")

    page.get_by_label("Indicateur", exact=True).select_option("dep_sein")
    page.get_by_role("button", name="Afficher").click()
    expect(page).to_have_url(re.compile(r"/evolution\?indicateur=dep_sein$"))
    expect(
        page.get_by_role("heading", name="Dépistage cancer du sein", exact=True)
    ).to_be_visible()
    expect(page.locator("figure[data-chart='dep_sein'] circle.point")).to_have_count(
        points
    )


def test_remuneration_shows_the_socle_the_prevention_and_the_calendar(page, dashboard):
    """The socle, its quarters and the bands are the command's; the prévention part is the
    home page's euros; amounts read `2 505 €`, `626,25 €`."""
    expected = json.loads(
        fmt_plugin(
            dashboard, "remuneration", "--format", "json", "--as-of", "2026-11-30"
        )
    )
    log_in(page, dashboard, then="/")
    earned = page.locator("#earned").inner_text()
    possible = page.locator("#possible").inner_text()
    page.get_by_role("navigation").get_by_role("link", name="Rémunération").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Rémunération FMT 2026 — estimation au 30/11/2026"
    )
    components = page.locator("#components tbody tr")
    expect(components.nth(0)).to_contain_text("Forfait socle")
    expect(components.nth(0)).to_contain_text(
        french.euros(Decimal(str(expected["socle"]["earned_eur"])))
    )
    expect(components.nth(2)).to_contain_text("Majoration prévention")
    expect(components.nth(2).locator("td").nth(0)).to_have_text(earned)
    expect(components.nth(2).locator("td").nth(1)).to_have_text(possible)

    calendar = page.locator("#calendar tbody tr")
    payments = expected["payments"]
    expect(calendar).to_have_count(len(payments))
    for i, payment in enumerate(payments[:-1]):
        expect(calendar.nth(i).locator("td").first).to_have_text(
            french.euros(Decimal(str(payment["amount_eur"])))
        )
    expect(calendar.nth(0).locator("th")).to_have_text("avril 2026")
    expect(calendar.nth(len(payments) - 1).locator("th")).to_have_text(
        "janvier à juin 2027"
    )
    expect(calendar.nth(len(payments) - 1).locator("td").first).to_contain_text(earned)

    bands = page.locator("#bands tbody tr")
    expect(bands).to_have_count(len(expected["bands"]))
    for i, band in enumerate(expected["bands"]):
        expect(bands.nth(i).locator("td").nth(0)).to_have_text(
            french.number(band["patients"])
        )
        expect(bands.nth(i).locator("td").nth(1)).to_have_text(
            french.euros(Decimal(str(band["amount_eur"])))
        )
    assert "626,25\u202f€" in page.locator("#calendar").inner_text()
    screenshot(page, "remuneration")
