"""The invitation letters PDF: one French letter a page, the recall templates' text, fixed bytes."""

from __future__ import annotations

import fnmatch
import io
import tomllib
from datetime import UTC, date, datetime
from pathlib import Path

import pypdf
import pytest

from fmt_plugin.config import PracticeSettings
from fmt_plugin.letters import EmptyLetters, Invitation, invitation_letters_pdf
from fmt_plugin.model import Patient
from fmt_plugin.recalls.letter import Letters
from fmt_plugin.rules.model import Status
from fmt_plugin.rules.pack import load_default_pack
from fmt_plugin.timezone import PARIS

ROOT = Path(__file__).parents[1]
NOW = datetime(2026, 12, 3, 10, 15, tzinfo=PARIS)
PRACTICE = PracticeSettings(
    name="Cabinet médical des Tilleuls",
    phone="01 99 00 00 00",
    doctor="Dr Hélène Lefèvre",
    address=("12 rue des Tilleuls", "75011 Paris"),
    city="Paris",
)
COLORECTAL = load_default_pack().indicator("dep_colorectal")
#: The first sentence of `indicators/dep_colorectal.txt.j2`'s `why`.
WHY = "Le cancer colorectal est l'un des cancers les plus fréquents après 50 ans."
ADULTS = [
    Invitation(
        Patient("P001", "test", nom="Dupont", prenom="MARIE-ÉLODIE"),
        Status.A_VERIFIER,
    ),
    Invitation(
        Patient("P002", "test", nom="Lefèvre-Cœur", prenom="André"),
        Status.A_VENIR,
        date(2027, 3, 1),
    ),
    Invitation(
        Patient("P003", "test", nom="Nguyen", prenom="Thị Hà"), Status.A_VERIFIER
    ),
]


def pages(pdf: bytes) -> list[str]:
    """Each page's text, spaces (no-break ones included) and line breaks made one space."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return [" ".join(page.extract_text().split()) for page in reader.pages]


def letters_pdf(invitations=ADULTS, practice=PRACTICE, **options) -> bytes:
    options.setdefault("letters", Letters(doctor=practice.doctor))
    return invitation_letters_pdf(practice, COLORECTAL, invitations, now=NOW, **options)


def test_each_patient_gets_one_page_with_the_letterhead_name_date_and_text():
    """Three patients, three pages: practice, patient, French date and template text."""
    texts = pages(letters_pdf())
    assert len(texts) == 3
    names = ["Marie-Élodie DUPONT", "André LEFÈVRE-CŒUR", "Thị Hà NGUYEN"]
    for text, name in zip(texts, names, strict=True):
        assert text.startswith("Cabinet médical des Tilleuls Dr Hélène Lefèvre")
        assert "12 rue des Tilleuls 75011 Paris Tél. 01 99 00 00 00" in text
        assert name in text
        assert "Paris, le 3 décembre 2026" in text
        assert "Objet : Votre suivi de prévention" in text
        assert WHY in text
        assert "Bien cordialement, Dr Hélène Lefèvre Cabinet médical des Tilleuls" in (
            text
        )
    assert "Dépistage cancer colorectal : à faire dès que possible" in texts[0]
    assert "à prévoir avant le 1er mars 2027" in texts[1]


def test_a_child_s_letter_is_written_to_the_parents():
    """Under 18 the envelope reads "Aux parents de" and the text speaks of the child."""
    child = Invitation(
        Patient(
            "P004", "test", nom="Martin", prenom="Léa", birth_date=date(2016, 4, 2)
        ),
        Status.A_VERIFIER,
    )
    (text,) = pages(letters_pdf([child]))
    assert "Aux parents de Léa MARTIN" in text
    assert "Madame, Monsieur," in text
    assert "de votre enfant Léa" in text


def test_a_printed_letter_does_not_say_it_was_sent_automatically():
    """The e-mail's "envoyé automatiquement" paragraph is left out on paper."""
    (text,) = pages(letters_pdf(ADULTS[:1]))
    assert "automatiquement" not in text
    assert "Si vous ne souhaitez plus recevoir ces messages" in text


def test_the_practice_s_own_templates_change_the_text(tmp_path):
    """A file of `[recalls] templates` replaces the shipped one, on paper too."""
    folder = tmp_path / "modeles"
    (folder / "indicators").mkdir(parents=True)
    (folder / "letter.txt.j2").write_text(
        '{% extends "fmt/letter.txt.j2" %}\n'
        "{% block signature %}\nL'équipe du cabinet, à votre écoute\n{% endblock %}\n",
        encoding="utf-8",
    )
    (folder / "indicators" / "dep_colorectal.txt.j2").write_text(
        "{% set why %}Un test simple, à faire chez soi : c'est un vœu du cabinet."
        "{% endset %}\n{% set where %}En pharmacie.{% endset %}\n",
        encoding="utf-8",
    )
    letters = Letters(folder, doctor=PRACTICE.doctor)
    (text,) = pages(letters_pdf(ADULTS[:1], letters=letters))
    assert "L'équipe du cabinet, à votre écoute" in text
    assert "Un test simple, à faire chez soi : c'est un vœu du cabinet." in text
    assert "Bien cordialement" not in text
    assert WHY not in text


def test_without_a_city_the_date_stands_alone_and_without_a_doctor_the_practice_signs():
    """No `[practice] city`: "Le 3 décembre 2026"; no doctor: the practice alone."""
    practice = PracticeSettings(name="Cabinet des Lilas")
    (text,) = pages(letters_pdf(ADULTS[:1], practice=practice))
    assert "Le 3 décembre 2026" in text
    assert "Paris, le" not in text
    assert "Tél." not in text
    assert "Le cabinet fait régulièrement le point" in text
    assert text.endswith("Bien cordialement, Cabinet des Lilas")


def test_the_same_inputs_give_the_same_bytes_dated_now():
    """Deterministic: the creation date is `now`, not the time of printing."""
    first = letters_pdf()
    assert letters_pdf() == first
    info = pypdf.PdfReader(io.BytesIO(first)).metadata
    assert info is not None
    assert info.creation_date.astimezone(UTC) == NOW.astimezone(UTC)
    assert info.title == "Lettres d'invitation – Dépistage cancer colorectal"
    assert info.author == "Cabinet médical des Tilleuls"


def test_no_invitation_and_a_naive_date_are_refused():
    """An empty list is a caller's mistake, as is a time without a timezone."""
    with pytest.raises(EmptyLetters):
        letters_pdf([])
    with pytest.raises(ValueError, match="timezone"):
        invitation_letters_pdf(
            PRACTICE,
            COLORECTAL,
            ADULTS,
            now=datetime(2026, 12, 3),  # noqa: DTZ001
        )


def test_the_font_and_its_licence_are_package_data():
    """The TTF files and their licence match package-data globs, so a wheel has them."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    globs = pyproject["tool"]["setuptools"]["package-data"]["fmt_plugin"]
    package = ROOT / "fmt_plugin"
    files = sorted(
        p.relative_to(package).as_posix()
        for p in (package / "letters" / "fonts").iterdir()
    )
    assert files == [
        "letters/fonts/DejaVuSans-Bold.ttf",
        "letters/fonts/DejaVuSans.ttf",
        "letters/fonts/LICENSE-DejaVu.txt",
    ]
    for name in files:
        assert any(fnmatch.fnmatch(name, glob) for glob in globs), name
