"""What one printed invitation says: the recall templates rendered for one patient and one indicator.

The wording is the recall letters' own (`fmt_plugin.recalls.letter`, with the practice's
`[recalls] templates` folder when it has one), rendered as a `printed` letter: this module
only adds what paper needs and an e-mail does not, the recipient's name for the envelope's
window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from fmt_plugin.model import Patient
from fmt_plugin.recalls.letter import Letters
from fmt_plugin.recalls.model import Audience, DueItem, PracticeContact, RecallMessage
from fmt_plugin.recalls.planner import audience
from fmt_plugin.recalls.policy import RecallPolicy
from fmt_plugin.rules.model import Status
from fmt_plugin.rules.pack import Indicator


@dataclass(frozen=True)
class Invitation:
    """One patient to invite for an indicator, with their status and due date for it."""

    patient: Patient
    status: Status
    due: date | None = field(default=None, repr=False)


@dataclass(frozen=True)
class PrintedLetter:
    """One invitation's texts, ready to lay out (health data: never logged)."""

    #: The address block, line by line ("Aux parents de", "Camille MARTIN").
    recipient: tuple[str, ...] = field(repr=False)
    subject: str = field(repr=False)
    #: The plain-text letter of the templates, signature included.
    body: str = field(repr=False)


def printed_letter(
    invitation: Invitation,
    indicator: Indicator,
    *,
    practice: PracticeContact,
    letters: Letters,
    policy: RecallPolicy,
    now: datetime,
) -> PrintedLetter:
    """The invitation of `invitation.patient` to `indicator`, as of `now`.

    Raises `LetterTemplateError` when a template fails (its message names no patient).
    """
    patient = invitation.patient
    written_to = audience(patient, policy, now.date())
    item = DueItem(
        indicator=indicator.id,
        label=indicator.label,
        # The cycle identifies an outbox item; a printed letter is not one.
        cycle="",
        step=1,
        status=invitation.status,
        due=invitation.due,
    )
    message = RecallMessage(
        recall_id=0,
        message_id="",
        patient=patient,
        audience=written_to,
        items=(item,),
        practice=practice,
        created_at=now,
    )
    text = letters.render(message, printed=True)
    return PrintedLetter(
        recipient=recipient_lines(patient, written_to),
        subject=text.subject,
        body=text.plain,
    )


def recipient_lines(patient: Patient, written_to: Audience) -> tuple[str, ...]:
    """The envelope's window: `Prénom NOM`, after "Aux parents de" for a child.

    The family name in capitals, as La Poste recommends. The roster holds no postal
    address: the practice writes it under the name, or hands the letter over.
    """
    first = patient.prenom.strip()
    if first.isupper():
        first = first.title()
    name = " ".join(part for part in (first, patient.nom.strip().upper()) if part)
    lines = (name,) if name else ()
    if written_to is Audience.PARENTS:
        return ("Aux parents de", *lines)
    return lines
