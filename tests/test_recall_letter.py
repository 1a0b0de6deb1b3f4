"""The recall letter: well-formed French MIME, what is due, why and where, how to book and object."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, date, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import pytest

from fmt_plugin.model import Patient
from fmt_plugin.recalls.letter import (
    Letters,
    compose_letter,
    due_phrase,
    french_date,
)
from fmt_plugin.recalls.model import (
    Audience,
    DueItem,
    PracticeContact,
    RecallMessage,
)
from fmt_plugin.rules.model import Status
from fmt_plugin.views.french import long_day, nonbreaking_punctuation

NBSP = "\u00a0"
NOW = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
SENDER = "rappels@cabinet-lilas.mssante.fr"
RECIPIENT = "146026322000196@patient.mssante.fr"
DOCTOR = "Dr Marie Martin"
FLU = DueItem(
    "vacc_grippe",
    "Vaccination grippe",
    "saison-2025",
    1,
    Status.A_VENIR,
    date(2026, 3, 15),
)
BREAST = DueItem(
    "dep_sein",
    "Dépistage cancer du sein",
    "2026-01-10",
    1,
    Status.A_VERIFIER,
    date(2026, 1, 10),
)
DENTAL = DueItem(
    "bucco_dentaire", "Examen bucco-dentaire annuel", "2026-02-01", 1, Status.A_VERIFIER
)
#: The 15 indicators of fmt-2026, each with words its "where" text must hold.
WHERE = {
    "vacc_grippe": ("pharmacie", "infirmier", "sage-femme"),
    "vacc_covid": ("pharmacie", "infirmier", "sage-femme"),
    "vacc_pneumo": ("cabinet", "pharmacie"),
    "vacc_ror": ("pédiatre", "PMI"),
    "vacc_meningo_acwy": ("pédiatre", "PMI"),
    "vacc_hpv": ("pédiatre", "pharmacie", "collège"),
    "dep_colorectal": ("kit", "pharmacie", "internet", "courrier d'invitation"),
    "dep_sein": ("radiologue agréé", "courrier d'invitation", "centre régional"),
    "dep_col_uterus": ("gynécologue", "sage-femme", "laboratoire"),
    "dep_diabete": ("laboratoire", "ordonnance du cabinet", "à jeun"),
    "dep_mrc": ("laboratoire", "ordonnance du cabinet"),
    "suivi_hba1c": ("laboratoire", "ordonnance du cabinet"),
    "exam_9e_mois": ("pédiatre", "PMI", "carnet de santé"),
    "exam_24e_mois": ("pédiatre", "PMI", "carnet de santé"),
    "bucco_dentaire": ("dentiste",),
}
#: Words of each indicator's "why" text: what the act protects from.
WHY = {
    "vacc_grippe": "grippe",
    "vacc_covid": "Covid-19",
    "vacc_pneumo": "pneumocoque",
    "vacc_ror": "rougeole",
    "vacc_meningo_acwy": "méningites",
    "vacc_hpv": "papillomavirus",
    "dep_colorectal": "cancer colorectal",
    "dep_sein": "cancer du sein",
    "dep_col_uterus": "col de l'utérus",
    "dep_diabete": "diabète",
    "dep_mrc": "reins",
    "suivi_hba1c": "hémoglobine glyquée",
    "exam_9e_mois": "examens médicaux obligatoires",
    "exam_24e_mois": "examens médicaux obligatoires",
    "bucco_dentaire": "M'T dents",
}
GENERIC_WHERE = "Le cabinet peut vous dire où et comment le faire."
#: The indicators whose population is children: their letters go to the parents.
CHILDREN = {
    "vacc_ror",
    "vacc_meningo_acwy",
    "vacc_hpv",
    "exam_9e_mois",
    "exam_24e_mois",
}


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


def letter_of(
    message: RecallMessage,
    *,
    letters: Letters | None = None,
    replies: bool = False,
    **headers: str,
) -> email.message.EmailMessage:
    """The composed letter, flattened and parsed back as a mail reader would."""
    composed = compose_letter(
        message,
        sender=SENDER,
        recipient=RECIPIENT,
        now=NOW,
        headers=headers,
        letters=letters,
        replies=replies,
    )
    parsed = email.message_from_bytes(composed.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, email.message.EmailMessage)
    return parsed


def plain(letter: email.message.EmailMessage) -> str:
    part = letter.get_body(("plain",))
    assert part is not None
    return part.get_content().replace("\r\n", "\n")


def html(letter: email.message.EmailMessage) -> str:
    part = letter.get_body(("html",))
    assert part is not None
    return part.get_content()


def signed() -> Letters:
    return Letters(doctor=DOCTOR)


def one_line(text: str) -> str:
    """The text with French no-break spaces read as spaces (for phrase searches)."""
    return text.replace(NBSP, " ")


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


def test_both_parts_are_quoted_printable():
    """Each part is quoted-printable, readable in an `.eml` opened in a text editor."""
    letter = letter_of(recall())
    encodings = {part["Content-Transfer-Encoding"] for part in letter.iter_parts()}
    assert encodings == {"quoted-printable"}


def test_letter_is_seven_bit_clean():
    """The flattened message is pure ASCII, so no server needs 8BITMIME."""
    composed = compose_letter(recall(), sender=SENDER, recipient=RECIPIENT, now=NOW)
    composed.as_bytes().decode("ascii")


def test_message_id_without_brackets_gets_them():
    """A bare message id is written between angle brackets, as RFC 5322 wants."""
    letter = letter_of(recall(message_id="r7.3f9a@fmt-plugin.invalid"))
    assert letter["Message-ID"] == "<r7.3f9a@fmt-plugin.invalid>"


def test_the_same_message_gets_the_same_message_id_at_every_attempt():
    """Composing the letter again (a retry, later) keeps its Message-ID."""
    first = compose_letter(recall(), sender=SENDER, recipient=RECIPIENT, now=NOW)
    later = compose_letter(
        recall(), sender=SENDER, recipient=RECIPIENT, now=NOW + timedelta(hours=6)
    )
    assert first["Message-ID"] == later["Message-ID"]


def test_each_item_says_what_is_due_and_when():
    """Each indicator's label is followed by its due date in French, or 'dès que possible'."""
    text = plain(letter_of(recall()))
    assert f"- Vaccination grippe{NBSP}: à prévoir avant le 15 mars 2026" in text
    assert f"- Dépistage cancer du sein{NBSP}: à faire dès que possible" in text


def test_first_of_the_month_is_written_premier():
    """French long dates write the first day as '1er'; `french_date` is the same function."""
    assert long_day(date(2026, 3, 1)) == "1er mars 2026"
    assert long_day(date(2026, 8, 15)) == "15 août 2026"
    assert french_date(date(2026, 3, 1)) == "1er mars 2026"


def test_an_item_without_due_date_is_due_as_soon_as_possible():
    """An item with no due date is worded as 'à faire dès que possible'."""
    item = DueItem("x", "X", "sans-echeance", 1, Status.A_VENIR)
    assert due_phrase(item) == "à faire dès que possible"


@pytest.mark.parametrize("indicator", sorted(WHERE))
def test_each_indicator_says_why_it_matters_and_where_it_is_done(indicator):
    """Every fmt-2026 indicator has its own why and where, not the generic texts."""
    item = DueItem(indicator, f"Libellé {indicator}", "c", 1, Status.A_VERIFIER)
    audience = Audience.PARENTS if indicator in CHILDREN else Audience.PATIENT
    text = one_line(plain(letter_of(recall(items=(item,), audience=audience))))
    assert WHY[indicator] in text
    for word in WHERE[indicator]:
        assert word in text
    assert GENERIC_WHERE not in text


def test_why_and_where_follow_each_item_in_both_parts():
    """Each item's why and where texts are in the plain text and in the HTML, in order."""
    letter = letter_of(recall(items=(FLU, BREAST, DENTAL)))
    for body in (one_line(plain(letter)), one_line(html(letter))):
        positions = [
            body.index("Vaccination grippe"),
            body.index("à refaire chaque automne"),
            body.index("Dépistage cancer du sein"),
            body.index("radiologue agréé"),
            body.index("Examen bucco-dentaire annuel"),
            body.index("chez le dentiste de votre choix"),
        ]
        assert positions == sorted(positions)


def test_an_indicator_of_the_practice_pack_gets_the_generic_texts():
    """An indicator without its own template is explained by the general fallback."""
    item = DueItem("suivi_tension", "Suivi de la tension", "c", 1, Status.A_VERIFIER)
    text = one_line(plain(letter_of(recall(items=(item,)))))
    assert "- Suivi de la tension : à faire dès que possible" in text
    assert GENERIC_WHERE in text


def test_an_indicator_id_is_never_a_path():
    """An id like a path falls back to the generic texts instead of reading a file."""
    item = DueItem("../letter", "Étrange", "c", 1, Status.A_VERIFIER)
    assert GENERIC_WHERE in one_line(plain(letter_of(recall(items=(item,)))))


def test_the_doctor_signs_and_speaks_in_the_first_person():
    """With `[practice] doctor`, the letter says 'je' and is signed by the doctor and practice."""
    letter = letter_of(recall(), letters=signed())
    text = plain(letter)
    assert text.rstrip().endswith(f"{DOCTOR}\nCabinet des Lilas")
    assert "Je fais régulièrement le point avec mes patients" in text
    assert f"{DOCTOR}<br>" in html(letter)


def test_without_a_doctor_the_practice_signs_alone():
    """Without a doctor, the practice speaks and signs; no doctor line is left empty."""
    text = plain(letter_of(recall()))
    assert "Le cabinet fait régulièrement le point avec ses patients" in text
    assert text.rstrip().endswith("Bien cordialement,\n\nCabinet des Lilas")


def test_letter_gives_the_practice_phone_to_book():
    """The letter tells how to book: call the practice at its number, and is signed by it."""
    text = one_line(plain(letter_of(recall())))
    assert (
        "Pour prendre rendez-vous au cabinet ou pour toute question, "
        "appelez le 01 23 45 67 89." in text
    )
    assert text.rstrip().endswith("Cabinet des Lilas")


def test_letter_without_phone_asks_to_contact_the_practice():
    """Without a configured phone number the letter still says how to book and object."""
    text = one_line(plain(letter_of(recall(practice=PracticeContact("Lilas")))))
    assert "pour toute question, contactez le cabinet." in text
    assert "dites-le au cabinet lors de la prochaine consultation" in text


def test_letter_without_practice_name_is_signed_generically():
    """An unnamed practice signs 'Votre cabinet médical' and sends from its bare address."""
    letter = letter_of(recall(practice=PracticeContact("")))
    assert plain(letter).rstrip().endswith("Votre cabinet médical")
    assert letter["From"].addresses[0].display_name == ""


def test_letter_says_how_to_object_to_further_messages():
    """Both parts say the patient may ask the practice to stop, by phone or in consultation."""
    letter = letter_of(recall())
    sentence = (
        "Si vous ne souhaitez plus recevoir ces messages de prévention, dites-le au "
        "cabinet, par téléphone au 01 23 45 67 89 ou lors de la prochaine consultation : "
        "vous n'en recevrez plus (droit d'opposition prévu par le RGPD)."
    )
    assert sentence in one_line(plain(letter))
    assert sentence.replace("'", "&#39;") in one_line(html(letter))


def test_objection_offers_a_reply_only_when_the_patient_can_reply():
    """A reply is offered when the channel lets the patient answer, and said impossible otherwise."""
    blocked = one_line(plain(letter_of(recall())))
    open_ = one_line(plain(letter_of(recall(), replies=True)))
    assert "en répondant à ce message" not in blocked
    assert "ne peut pas recevoir de réponse" in blocked
    assert "par téléphone au 01 23 45 67 89, en répondant à ce message ou lors" in open_
    assert "ne peut pas recevoir de réponse" not in open_


def test_patient_letter_addresses_the_patient_without_names():
    """An adult's letter says 'Bonjour' and 'votre dossier', and names nobody."""
    text = plain(letter_of(recall()))
    assert text.startswith("Bonjour,\n")
    assert "D'après votre dossier médical" in text
    assert "votre enfant" not in text
    assert "Léa" not in text
    assert "Martin" not in text


def test_parents_letter_speaks_of_their_child_by_first_name():
    """A child's letter greets the parents and speaks of 'votre enfant' by first name."""
    letter = letter_of(recall(audience=Audience.PARENTS, items=(DENTAL,)))
    for body in (plain(letter), html(letter)):
        assert "Madame, Monsieur," in body
        assert "votre enfant Léa" in body
        assert "Martin" not in body
    assert letter["Subject"].startswith("Le suivi de prévention de votre enfant")


def test_parents_letter_words_child_indicators_for_the_child():
    """The where texts speak of the child: their dentist appointment, their paediatrician."""
    letter = letter_of(recall(audience=Audience.PARENTS, items=(FLU, DENTAL)))
    text = one_line(plain(letter))
    assert "Prenez rendez-vous pour votre enfant chez le dentiste" in text
    assert (
        "La vaccination de votre enfant se fait au cabinet ou chez son pédiatre" in text
    )
    assert "pour votre enfant, dites-le au cabinet" in text
    assert "son dossier sera mis à jour" in text


def test_adult_flu_letter_points_to_the_pharmacy_and_nurses():
    """For an adult, flu vaccination is at the pharmacy, the practice, a nurse or a midwife."""
    text = one_line(plain(letter_of(recall(items=(FLU,)))))
    assert (
        "La vaccination se fait en pharmacie, au cabinet, ou auprès d'un infirmier "
        "ou d'une sage-femme." in text
    )


def test_parents_letter_without_first_name_says_your_child():
    """A child without a first name in the roster is 'votre enfant', without a blank."""
    text = plain(letter_of(recall(audience=Audience.PARENTS, prenom="")))
    assert "de votre enfant, les examens" in one_line(text)


def test_reminder_says_so_in_subject_and_text():
    """A step-2 message is a 'Rappel' and says the practice already wrote."""
    second = DueItem(
        "vacc_grippe", "Vaccination grippe", "saison-2025", 2, Status.A_VENIR
    )
    letter = letter_of(recall(items=(second,)))
    assert letter["Subject"].startswith(f"Rappel{NBSP}: votre suivi de prévention")
    assert "Nous vous avons déjà écrit" in plain(letter)
    assert "restent à faire" in plain(letter)


def test_parents_reminder_signed_by_the_doctor():
    """A reminder to parents, from the doctor, says 'je vous ai déjà écrit' about the child."""
    second = DueItem("vacc_ror", "Vaccination ROR", "2026-01-01", 2, Status.A_VERIFIER)
    letter = letter_of(
        recall(audience=Audience.PARENTS, items=(second,)), letters=signed()
    )
    text = plain(letter)
    assert (
        "Je vous ai déjà écrit au sujet du suivi de prévention de votre enfant Léa."
        in text
    )
    assert letter["Subject"].startswith(f"Rappel{NBSP}: le suivi de prévention")


def test_letter_carries_no_identity_nor_result():
    """Neither part holds the INS, the family name or the birth date."""
    letter = letter_of(recall(audience=Audience.PARENTS))
    for body in (plain(letter), html(letter)):
        assert "146026322000196" not in body
        assert "Martin" not in body
        assert "2015" not in body


def test_html_part_escapes_every_text():
    """Practice name, phone and labels reach the HTML escaped; the page is declared French."""
    item = DueItem("x", "Examen <b> & co", "c", 1, Status.A_VERIFIER)
    practice = PracticeContact('Cabinet "A&B" <Lilas>', "<i>01</i>")
    page = html(letter_of(recall(items=(item,), practice=practice)))
    assert '<html lang="fr">' in page
    assert "Examen &lt;b&gt; &amp; co" in page
    assert "Cabinet &#34;A&amp;B&#34; &lt;Lilas&gt;" in page
    assert "&lt;i&gt;01&lt;/i&gt;" in page
    assert "<b>" not in page
    assert "<i>" not in page


def test_html_escapes_the_child_first_name_and_the_doctor():
    """A first name or a doctor's name with markup is text in the HTML, never a tag."""
    letter = letter_of(
        recall(audience=Audience.PARENTS, prenom="<script>"),
        letters=Letters(doctor="Dr <b>X</b>"),
    )
    page = html(letter)
    assert "<script>" not in page
    assert "<b>" not in page
    assert "votre enfant &lt;script&gt;" in page


def test_french_spacing_is_non_breaking_in_both_parts():
    """The space before ':' is a no-break space in the text, never inside an HTML tag."""
    letter = letter_of(recall())
    assert f"sont à faire{NBSP}:" in plain(letter)
    page = html(letter)
    assert f"sont à faire{NBSP}:" in page
    assert '<meta charset="utf-8">' in page


def test_nonbreaking_punctuation_changes_only_spaces_before_punctuation():
    """`a : b ; c ?` gets no-break spaces; `12:30` and guillemets' insides are handled."""
    assert nonbreaking_punctuation("a : b ; c ? d !") == (
        f"a{NBSP}: b{NBSP}; c{NBSP}? d{NBSP}!"
    )
    assert nonbreaking_punctuation("« M'T dents »") == f"«{NBSP}M'T dents{NBSP}»"
    assert nonbreaking_punctuation("12:30 https://x") == "12:30 https://x"


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
    assert "votre enfant Jean-Luc," in text
