"""The invitation letters the practice prints: one PDF, one French letter a page.

`invitation_letters_pdf(practice, indicator, invitations, now=...)` returns the bytes; the
dashboard's "Imprimer les lettres d'invitation" serves them (`web/pages/letters.py`).
"""

from __future__ import annotations

from fmt_plugin.letters.invitation import Invitation
from fmt_plugin.letters.pdf import EmptyLetters, invitation_letters_pdf

__all__ = ["EmptyLetters", "Invitation", "invitation_letters_pdf"]
