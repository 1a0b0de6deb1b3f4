"""The recall letter: well-formed French MIME, what is due and how to book, nothing more."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, date, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import pytest

from fmt_plugin.model import Patient
from fmt_plugin.recalls.letter import compose_letter, due_phrase, french_date
from fmt_plugin.recalls.model import (
    Audience,
    DueItem,
    PracticeContact,
    RecallMessage,
)
from fmt_plugin.rules.model import Status

NBSP = "\u00a0"
NOW = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
SENDER = "rappels@cabinet-lilas.mssante.fr"
RECIPIENT = "146026322000196@patient.mssante.fr"
FLU = DueItem(
    "grippe", "Vaccination grippe", "saison-2025", 1, Status.A_VENIR, date(2026, 3, 15)
)
BREAST = DueItem(
    "dep_sein",
    "Dépistage cancer du sein",
    "2026-01-10",
    1,
    Status.A_VERIFIER,
    date(2026, 1, 10),
)


def recall(
    *,
    audience: Audience = Audience.PATIENT,
    items: tuple[DueItem, ...] = (FLU, BREAST),
    practice: PracticeContact | None = None,
    message_id: str = "<r7.3f9a@fmt-plugin.invalid>",
    prenom: str = "Léa",
) -> RecallMessage:
    patient = Patient(
        patient_id="P007",
        source="test",
        ins="146026322000196",
        nom="Martin",
        prenom=prenom,
        birth_date=date(2015, 6, 1),
    )
    return RecallMessage(
        recall_id=7,
        message_id=message_id,
        patient=patient,
        audience=audience,
        items=items,
        practice=practice or PracticeContact("Cabinet des Lilas", "01 23 45 67 89"),
        created_at=NOW,
    )


def letter_of(message: RecallMessage, **headers: str) -> email.message.EmailMessage:
    """The composed letter, flattened and parsed back as a mail reader would."""
    composed = compose_letter(
        message, sender=SENDER, recipient=RECIPIENT, now=NOW, headers=headers
    )
    parsed = email.message_from_bytes(composed.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, email.message.EmailMessage)
    return parsed


def plain(letter: email.message.EmailMessage) -> str:
    part = letter.get_body(("plain",))
    assert part is not None
    return part.get_content()


def html(letter: email.message.EmailMessage) -> str:
    part = letter.get_body(("html",))
    assert part is not None
    return part.get_content()


def test_letter_has_the_headers_of_a_proper_message():
    """From (practice name and mailbox), To, Subject, Date, Message-ID and language are set."""
    letter = letter_of(recall())
    assert letter["From"].addresses[0].display_name == "Cabinet des Lilas"
    assert letter["From"].addresses[0].addr_spec == SENDER
    assert letter["To"].addresses[0].addr_spec == RECIPIENT
    assert letter["Subject"] == "Votre suivi de prévention – Cabinet des Lilas"
    assert letter["Message-ID"] == "<r7.3f9a@fmt-plugin.invalid>"
    assert letter["Content-Language"] == "fr"
    assert letter["Auto-Submitted"] == "auto-generated"


def test_date_header_is_now_in_paris_time():
    """The Date header is RFC 5322 and equals `now`, written with Paris's offset."""
    letter = letter_of(recall())
    parsed = parsedate_to_datetime(letter["Date"])
    assert parsed == NOW
    assert parsed.utcoffset() == timedelta(hours=1)


def test_letter_is_plain_text_with_an_html_alternative():
    """The message is multipart/alternative: text/plain then text/html, both UTF-8."""
    letter = letter_of(recall())
    assert letter.get_content_type() == "multipart/alternative"
    kinds = [part.get_content_type() for part in letter.iter_parts()]
    assert kinds == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in letter.iter_parts())


def test_letter_is_seven_bit_clean():
    """The flattened message is pure ASCII, so no server needs 8BITMIME."""
    composed = compose_letter(recall(), sender=SENDER, recipient=RECIPIENT, now=NOW)
    composed.as_bytes().decode("ascii")


def test_message_id_without_brackets_gets_them():
    """A bare message id is written between angle brackets, as RFC 5322 wants."""
    letter = letter_of(recall(message_id="r7.3f9a@fmt-plugin.invalid"))
    assert letter["Message-ID"] == "<r7.3f9a@fmt-plugin.invalid>"


def test_each_item_says_what_is_due_and_when():
    """Each indicator's label is followed by its due date in French, or 'dès que possible'."""
    text = plain(letter_of(recall()))
    assert f"- Vaccination grippe{NBSP}: à prévoir avant le 15 mars 2026" in text
    assert f"- Dépistage cancer du sein{NBSP}: à faire dès que possible" in text


def test_first_of_the_month_is_written_premier():
    """French dates write the first day as '1er'."""
    assert french_date(date(2026, 3, 1)) == "1er mars 2026"
    assert french_date(date(2026, 8, 15)) == "15 août 2026"


def test_an_item_without_due_date_is_due_as_soon_as_possible():
    """An item with no due date is worded as 'à faire dès que possible'."""
    item = DueItem("x", "X", "sans-echeance", 1, Status.A_VENIR)
    assert due_phrase(item) == "à faire dès que possible"


def test_letter_gives_the_practice_phone_to_book():
    """The letter tells how to book: call the practice at its number, and is signed by it."""
    text = plain(letter_of(recall()))
    assert "Pour prendre rendez-vous, appelez le cabinet au 01 23 45 67 89." in text
    assert text.rstrip().endswith("Cabinet des Lilas")


def test_letter_without_phone_asks_to_contact_the_practice():
    """Without a configured phone number the letter still says how to book."""
    text = plain(letter_of(recall(practice=PracticeContact("Cabinet des Lilas"))))
    assert "Pour prendre rendez-vous, contactez le cabinet." in text


def test_letter_without_practice_name_is_signed_generically():
    """An unnamed practice signs 'Votre cabinet médical' and sends from its bare address."""
    letter = letter_of(recall(practice=PracticeContact("")))
    assert plain(letter).rstrip().endswith("Votre cabinet médical")
    assert letter["From"].addresses[0].display_name == ""


def test_patient_letter_addresses_the_patient_without_names():
    """An adult's letter says 'votre suivi' and names nobody."""
    text = plain(letter_of(recall()))
    assert "au sujet de votre suivi de prévention" in text
    assert "Léa" not in text
    assert "Martin" not in text


def test_parents_letter_speaks_of_their_child_by_first_name():
    """A child's letter addresses the parents about 'votre enfant' and gives the first name."""
    letter = letter_of(recall(audience=Audience.PARENTS))
    text = plain(letter)
    assert "au sujet du suivi de prévention de votre enfant Léa." in text
    assert "D'après son dossier médical" in text
    assert letter["Subject"].startswith("Le suivi de prévention de votre enfant")
    assert "Martin" not in text


def test_reminder_says_so_in_subject_and_text():
    """A step-2 message is a 'Rappel' and says the practice already wrote."""
    second = DueItem("grippe", "Vaccination grippe", "saison-2025", 2, Status.A_VENIR)
    letter = letter_of(recall(items=(second,)))
    assert letter["Subject"].startswith(f"Rappel{NBSP}: votre suivi de prévention")
    assert "Nous vous avons déjà écrit" in plain(letter)
    assert "restent à faire" in plain(letter)


def test_letter_carries_no_identity_nor_result():
    """Neither part holds the INS, the family name or the birth date."""
    letter = letter_of(recall(audience=Audience.PARENTS))
    for body in (plain(letter), html(letter)):
        assert "146026322000196" not in body
        assert "Martin" not in body
        assert "2015" not in body


def test_html_part_escapes_every_text():
    """Practice name and labels reach the HTML escaped, and the page is declared French."""
    item = DueItem("x", "Examen <b> & co", "c", 1, Status.A_VERIFIER)
    practice = PracticeContact('Cabinet "A&B" <Lilas>', "01")
    page = html(letter_of(recall(items=(item,), practice=practice)))
    assert '<html lang="fr">' in page
    assert "Examen &lt;b&gt; &amp; co" in page
    assert "Cabinet &quot;A&amp;B&quot; &lt;Lilas&gt;" in page
    assert "<b>" not in page


def test_extra_headers_are_added():
    """Headers given by the channel (e.g. MSSanté's) are in the message."""
    letter = letter_of(recall(), **{"X-MSS-NIL": "fmt-plugin/1", "X-MSS-MES": "FIN"})
    assert letter["X-MSS-NIL"] == "fmt-plugin/1"
    assert letter["X-MSS-MES"] == "FIN"


def test_naive_now_is_refused():
    """A date without timezone cannot become a Date header."""
    naive = datetime(2026, 3, 2)  # noqa: DTZ001 - the very mistake under test
    with pytest.raises(ValueError, match="timezone"):
        compose_letter(recall(), sender=SENDER, recipient=RECIPIENT, now=naive)


def test_date_keeps_the_instant_whatever_the_given_zone():
    """A `now` in another zone gives the same instant, written in Paris time."""
    tokyo = NOW.astimezone(timezone(timedelta(hours=9)))
    composed = compose_letter(recall(), sender=SENDER, recipient=RECIPIENT, now=tokyo)
    assert composed["Date"] == "Mon, 02 Mar 2026 09:30:00 +0100"


def test_a_first_name_in_capitals_is_written_as_a_name():
    """An EHR's "JEAN-LUC" reads "Jean-Luc" in the parents' letter."""
    text = plain(letter_of(recall(audience=Audience.PARENTS, prenom="JEAN-LUC")))
    assert "votre enfant Jean-Luc." in text
