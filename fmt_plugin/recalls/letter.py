"""Compose the French recall letter of one outbox message: headers, plain text and HTML.

The letter says what is due and how to book, and nothing else: no result value, no medical
detail beyond the indicators' labels, no name but the first name of a child (so parents who
read several children's Mon espace santé know which one it is about). It goes to the
patient's own mailbox; it is never logged.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from fmt_plugin.recalls.model import Audience, DueItem, RecallMessage, highest_step
from fmt_plugin.rules.model import Status
from fmt_plugin.timezone import PARIS
from fmt_plugin.views.french import MONTHS

#: French typography puts a no-break space before `:` and `;`, so they never start a line.
NBSP = "\u00a0"
#: Who signs when the configuration gives no practice name.
DEFAULT_PRACTICE_NAME = "Votre cabinet médical"


@dataclass(frozen=True)
class _Text:
    """The letter's wording, shared by the plain-text and the HTML parts."""

    subject: str
    greeting: str
    intro: str
    items: tuple[str, ...]
    booking: str
    done_elsewhere: str
    automatic: str
    signature: str

    def paragraphs(self) -> tuple[str, ...]:
        """The paragraphs after the list of items."""
        return (self.booking, self.done_elsewhere, self.automatic)


def compose_letter(
    message: RecallMessage,
    *,
    sender: str,
    recipient: str,
    now: datetime,
    headers: Mapping[str, str] | None = None,
) -> EmailMessage:
    """The recall as a MIME message: plain text with an HTML alternative, in French.

    `now` (timezone-aware) becomes the `Date` header, in Paris time; `message.message_id`
    the `Message-ID`, so every attempt carries the same one. `headers` are added last
    (e.g. MSSanté's `X-MSS-NIL`). Raises ValueError for a naive `now`.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("the letter's date needs a timezone")
    text = _wording(message)
    letter = EmailMessage(policy=SMTP)
    practice = message.practice.name.strip()
    letter["From"] = Address(display_name=practice, addr_spec=sender)
    letter["To"] = Address(addr_spec=recipient)
    letter["Subject"] = text.subject
    letter["Date"] = format_datetime(now.astimezone(PARIS))
    letter["Message-ID"] = _bracketed(message.message_id)
    # RFC 3834: an automatic message, so auto-responders stay quiet.
    letter["Auto-Submitted"] = "auto-generated"
    for name, value in (headers or {}).items():
        letter[name] = value
    # Quoted-printable keeps the message 7-bit clean (no reliance on the server's 8BITMIME)
    # while an `.eml` stays readable in a text editor.
    letter.set_content(_plain(text), cte="quoted-printable")
    letter.add_alternative(_html(text), subtype="html", cte="quoted-printable")
    # After the content: set_content() clears every Content-* header.
    letter["Content-Language"] = "fr"
    return letter


def french_date(value: date) -> str:
    """`15 mars 2026`, and `1er mars 2026` for the first of the month."""
    day = "1er" if value.day == 1 else str(value.day)
    return f"{day} {MONTHS[value.month - 1]} {value.year}"


def due_phrase(item: DueItem) -> str:
    """When the item is due, in words: as soon as possible, or before its due date."""
    if item.status is Status.A_VERIFIER or item.due is None:
        return "à faire dès que possible"
    return f"à prévoir avant le {french_date(item.due)}"


def _wording(message: RecallMessage) -> _Text:
    practice = message.practice.name.strip() or DEFAULT_PRACTICE_NAME
    reminder = highest_step(message.items) >= 2
    if message.audience is Audience.PARENTS:
        child = _as_written(message.patient.prenom)
        subject = "le suivi de prévention de votre enfant"
        about = "du suivi de prévention de votre enfant" + (
            f" {child}" if child else ""
        )
        record = "son dossier médical"
    else:
        subject = "votre suivi de prévention"
        about = "de votre suivi de prévention"
        record = "votre dossier médical"
    if reminder:
        subject = f"Rappel{NBSP}: {subject}"
        intro = (
            f"Nous vous avons déjà écrit au sujet {about}. D'après {record}, "
            f"les actes suivants restent à faire{NBSP}:"
        )
    else:
        subject = subject[0].upper() + subject[1:]
        intro = (
            f"Nous vous écrivons au sujet {about}. D'après {record}, "
            f"les actes suivants sont à faire{NBSP}:"
        )
    phone = message.practice.phone.strip()
    booking = (
        f"Pour prendre rendez-vous, appelez le cabinet au {phone}."
        if phone
        else "Pour prendre rendez-vous, contactez le cabinet."
    )
    return _Text(
        subject=f"{subject} – {practice}",
        greeting="Bonjour,",
        intro=intro,
        items=tuple(
            f"{item.label}{NBSP}: {due_phrase(item)}" for item in message.items
        ),
        booking=booking,
        done_elsewhere=(
            f"Si c'est déjà fait, signalez-le lors de la prochaine consultation{NBSP}: "
            "le dossier sera mis à jour."
        ),
        automatic=(
            f"Ce message est envoyé automatiquement{NBSP}; pour toute question, "
            "adressez-vous au cabinet."
        ),
        signature=practice,
    )


def _plain(text: _Text) -> str:
    lines = [text.greeting, "", text.intro, ""]
    lines += [f"- {item}" for item in text.items]
    for paragraph in text.paragraphs():
        lines += ["", paragraph]
    lines += ["", "Bien cordialement,", text.signature, ""]
    return "\n".join(lines)


def _html(text: _Text) -> str:
    e = html.escape
    items = "".join(f"<li>{e(item)}</li>" for item in text.items)
    paragraphs = "".join(f"<p>{e(p)}</p>" for p in text.paragraphs())
    return (
        '<!DOCTYPE html>\n<html lang="fr">\n<head><meta charset="utf-8">'
        f"<title>{e(text.subject)}</title></head>\n<body>\n"
        f"<p>{e(text.greeting)}</p>\n<p>{e(text.intro)}</p>\n<ul>{items}</ul>\n"
        f"{paragraphs}\n<p>Bien cordialement,<br>{e(text.signature)}</p>\n"
        "</body>\n</html>\n"
    )


def _bracketed(message_id: str) -> str:
    message_id = message_id.strip()
    if message_id.startswith("<") and message_id.endswith(">"):
        return message_id
    return f"<{message_id}>"


def _as_written(first_name: str) -> str:
    """A first name as a letter writes it: EHRs often export them in capitals ("JEAN-LUC")."""
    name = first_name.strip()
    return name.title() if name.isupper() else name
