"""Printing invitation letters from the dashboard: chosen patients in, one PDF out, audited."""

from __future__ import annotations

import io
import os
import sqlite3
from pathlib import Path

import pypdf
import pypdfium2
import pytest
from dashboard_service import SCREENSHOTS_ENV, log_in
from playwright.sync_api import FormData, expect

from fmt_plugin.config import load_config
from fmt_plugin.installation import open_installation
from fmt_plugin.web.listing import PracticeListing

pytestmark = pytest.mark.slow

#: The demo practice's name (`fmt_plugin.demo.run.PRACTICE_NAME`) and the clock's day.
PRACTICE = "Cabinet de démonstration"
# The demo practice is in Paris: its letters are dated from there.
DAY = "Paris, le 30 novembre 2026"
INDICATOR = "dep_colorectal"
#: The first words of `recalls/templates/indicators/dep_colorectal.txt.j2`'s `why`.
WHY = "Le cancer colorectal est l'un des cancers les plus fréquents après 50 ans."


def practice_patients(dashboard, indicator: str) -> tuple[list, list]:
    """The demo's patients `indicator` invites (à vérifier, à venir), and those it does not."""
    with open_installation(dashboard.config) as installation:
        listing = PracticeListing()
        listing.refresh(installation.store)
        concerned = sorted(listing.concerned(indicator), key=lambda c: c[0].patient_id)
    invited = [p for p, known in concerned if known.status in ("a_verifier", "a_venir")]
    others = [p for p, known in concerned if known.status in ("fait", "exclu")]
    return invited, others


def audit_entries(dashboard, action: str) -> list[tuple[str, str, str]]:
    """(actor, target, detail) of every audit entry of `action`, oldest first."""
    path = load_config(dashboard.config).store.path
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT actor, target, detail FROM audit_log WHERE action = ? ORDER BY seq",
            (action,),
        ).fetchall()
    conn.close()
    return rows


def csrf_of(page) -> str:
    """The session's CSRF token, as the header's log-out form carries it."""
    return page.locator("form.logout input[name=csrf]").get_attribute("value")


def post_letters(page, dashboard, *, csrf: str, indicator: str, patients: list[str]):
    form = FormData().set("csrf", csrf).set("indicateur", indicator)
    for patient_id in patients:
        form.append("patient", patient_id)
    return page.request.post(dashboard.url + "/lettres", form=form)


def page_texts(pdf: bytes) -> list[str]:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return [" ".join(page.extract_text().split()) for page in reader.pages]


def check_first_page_renders(pdf: bytes) -> None:
    """Page 1 as PNG (PDFium): A4-sized, with ink in the letterhead; kept for the docs."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        image = document[0].render(scale=2).to_pil().convert("L")
    finally:
        document.close()
    assert image.size == (1191, 1684)  # A4, 595.28 × 841.89 pt, at 2 px a point
    letterhead = image.crop((0, 0, image.width, image.height // 8))
    dark = sum(letterhead.histogram()[:100])
    assert dark > 500, "the letterhead printed nothing"
    folder = os.environ.get(SCREENSHOTS_ENV)
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        image.save(Path(folder) / "lettre.png")


def test_the_chosen_patients_letters_download_as_one_audited_pdf(page, dashboard):
    """Three invited patients (and one done) posted: three letters, one PDF, audited."""
    invited, others = practice_patients(dashboard, INDICATOR)
    assert len(invited) >= 3
    assert others
    chosen = invited[:3]
    log_in(page, dashboard, "assistante")
    csrf = csrf_of(page)

    answer = post_letters(
        page,
        dashboard,
        csrf=csrf,
        indicator=INDICATOR,
        patients=[p.patient_id for p in chosen] + [others[0].patient_id],
    )

    assert answer.status == 200
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["content-disposition"] == (
        f'attachment; filename="lettres-{INDICATOR}-2026-11-30.pdf"'
    )
    assert answer.headers["cache-control"] == "no-store"
    pdf = answer.body()
    texts = page_texts(pdf)
    assert len(texts) == 3
    for text, patient in zip(texts, chosen, strict=True):
        assert text.startswith(PRACTICE)
        assert "1 rue de la Démonstration" in text  # the letterhead's address
        assert patient.nom.upper() in text
        assert DAY in text
        assert WHY in text
    check_first_page_renders(pdf)
    assert audit_entries(dashboard, "web.letters") == [
        ("assistante", INDICATOR, "3 lettre(s)")
    ]
    assert audit_entries(dashboard, "web.letters.patient") == [
        ("assistante", p.patient_id, INDICATOR) for p in chosen
    ]


def test_a_choice_that_cannot_be_printed_gets_a_french_page_saying_what_to_do(
    page, dashboard
):
    """No patient, an unknown indicator, only done patients, no CSRF: refused, nothing audited."""
    invited, others = practice_patients(dashboard, INDICATOR)
    log_in(page, dashboard)
    csrf = csrf_of(page)
    cases = [
        ([], INDICATOR, 400, "Aucun patient choisi : cochez dans la liste"),
        ([invited[0].patient_id], "pas_un_indicateur", 400, "Indicateur inconnu"),
        ([others[0].patient_id], INDICATOR, 400, "aucune lettre à imprimer"),
        (["inconnu-123"], INDICATOR, 400, "rechargez la liste et recommencez"),
    ]
    for patients, indicator, status, message in cases:
        answer = post_letters(
            page, dashboard, csrf=csrf, indicator=indicator, patients=patients
        )
        assert answer.status == status
        assert message in answer.text()
    forged = post_letters(
        page,
        dashboard,
        csrf="faux",
        indicator=INDICATOR,
        patients=[invited[0].patient_id],
    )
    assert forged.status == 403
    too_many = post_letters(
        page,
        dashboard,
        csrf=csrf,
        indicator=INDICATOR,
        patients=[f"p{n}" for n in range(501)],
    )
    assert too_many.status == 400
    assert "au plus 500 lettres" in too_many.text()
    assert audit_entries(dashboard, "web.letters") == []


def test_ticking_two_rows_of_a_list_downloads_their_letters(page, dashboard):
    """On /indicateurs/<code>, two ticked rows and the print button give a 2-page PDF."""
    invited, _ = practice_patients(dashboard, INDICATOR)
    wanted = {p.patient_id for p in invited}
    log_in(page, dashboard, then=f"/indicateurs/{INDICATOR}")
    boxes = page.locator("input[type=checkbox][name=patient]")
    expect(boxes.first).to_be_visible()
    ticked = 0
    for index in range(boxes.count()):
        box = boxes.nth(index)
        if box.get_attribute("value") in wanted:
            box.check()
            ticked += 1
            if ticked == 2:
                break
    assert ticked == 2
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Imprimer les lettres d'invitation").click()
    download = download_info.value
    assert download.suggested_filename == f"lettres-{INDICATOR}-2026-11-30.pdf"
    pdf = Path(download.path()).read_bytes()
    texts = page_texts(pdf)
    assert len(texts) == 2
    assert all(text.startswith(PRACTICE) and WHY in text for text in texts)
