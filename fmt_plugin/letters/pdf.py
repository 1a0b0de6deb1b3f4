"""The invitation letters laid out as one PDF with fpdf2: one letter a page, on A4.

Each page is a French business letter: the practice's letterhead (name, doctor, address,
phone), the recipient where a window envelope shows it, the place and date, the subject,
then the templates' text with its signature. The text is set in DejaVu Sans, shipped in
`fonts/` and embedded (as a subset) in the file, so accents and French punctuation print
the same on every system; nothing is read from the system or the network.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import Align, XPos, YPos

from fmt_plugin import __version__
from fmt_plugin.config import PracticeSettings
from fmt_plugin.letters.invitation import Invitation, PrintedLetter, printed_letter
from fmt_plugin.recalls.letter import DEFAULT_PRACTICE_NAME, Letters
from fmt_plugin.recalls.model import PracticeContact
from fmt_plugin.recalls.policy import RecallPolicy
from fmt_plugin.rules.pack import Indicator
from fmt_plugin.timezone import PARIS
from fmt_plugin.views.french import long_day

FONTS = Path(__file__).parent / "fonts"
FONT = "DejaVu"
#: Page geometry, in millimetres (A4 portrait).
MARGIN = 20.0
#: Where a French DL window envelope (window on the right) shows the address.
RECIPIENT_X = 110.0
RECIPIENT_Y = 50.0
#: The date, then the subject, start below the window.
DATE_Y = 88.0
BODY_SIZE = 10.5
LINE = 5.0
#: The ink of the letterhead and the rule below it.
DARK = (20, 40, 80)


class _LettersPdf(FPDF):
    """fpdf2's document, measuring each word once (500 letters say the same words)."""

    def __init__(self) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self._widths: dict[tuple[str, str, float, str], float] = {}

    def word_width(self, word: str) -> float:
        key = (self.font_family, self.font_style, self.font_size_pt, word)
        width = self._widths.get(key)
        if width is None:
            width = self._widths[key] = self.get_string_width(word)
        return width


class EmptyLetters(ValueError):
    """`invitation_letters_pdf` was given no patient: there is no letter to print."""


def invitation_letters_pdf(
    practice: PracticeSettings,
    indicator: Indicator,
    invitations: Sequence[Invitation],
    *,
    now: datetime,
    letters: Letters | None = None,
    policy: RecallPolicy | None = None,
) -> bytes:
    """One PDF of the invitations to `indicator`, one letter a page, dated `now` (Paris).

    `letters` are the templates in use (default: the shipped ones, signed by
    `practice.doctor`); `policy` says up to which age the parents are written to. `now`
    (timezone-aware) is also the file's creation date, so the same inputs give the same
    bytes. Raises `EmptyLetters` without invitations, `LetterTemplateError` when a
    template fails.
    """
    if not invitations:
        raise EmptyLetters("no invitation to print")
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("the letters' date needs a timezone")
    now = now.astimezone(PARIS)
    letters = letters or Letters(doctor=practice.doctor)
    policy = policy or RecallPolicy()
    contact = PracticeContact(practice.name, practice.phone)
    pdf = _document(practice, indicator, now)
    for invitation in invitations:
        letter = printed_letter(
            invitation,
            indicator,
            practice=contact,
            letters=letters,
            policy=policy,
            now=now,
        )
        pdf.add_page()
        _letterhead(pdf, practice)
        _recipient(pdf, letter)
        _place_and_date(pdf, practice, now)
        _subject(pdf, letter)
        _body(pdf, letter.body)
    return bytes(pdf.output())


def _document(
    practice: PracticeSettings, indicator: Indicator, now: datetime
) -> _LettersPdf:
    pdf = _LettersPdf()
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(auto=True, margin=MARGIN)
    pdf.set_creation_date(now)
    pdf.set_lang("fr")
    pdf.set_title(f"Lettres d'invitation – {indicator.label}")
    pdf.set_author(practice.name.strip() or DEFAULT_PRACTICE_NAME)
    pdf.set_creator(f"fmt-plugin {__version__}")
    pdf.add_font(FONT, "", FONTS / "DejaVuSans.ttf")
    pdf.add_font(FONT, "B", FONTS / "DejaVuSans-Bold.ttf")
    return pdf


def _letterhead(pdf: _LettersPdf, practice: PracticeSettings) -> None:
    """Name, doctor, address and phone at the top left, over a thin rule."""
    pdf.set_xy(MARGIN, 15)
    pdf.set_text_color(*DARK)
    pdf.set_font(FONT, "B", 14)
    _line(pdf, practice.name.strip() or DEFAULT_PRACTICE_NAME, 7)
    pdf.set_font(FONT, "", 10)
    if practice.doctor.strip():
        _line(pdf, practice.doctor.strip(), 5)
    for address_line in practice.address:
        _line(pdf, address_line.strip(), 4.5)
    if practice.phone.strip():
        _line(pdf, f"Tél. {practice.phone.strip()}", 4.5)
    pdf.set_draw_color(*DARK)
    pdf.set_line_width(0.4)
    rule = pdf.get_y() + 2
    pdf.line(MARGIN, rule, pdf.w - MARGIN, rule)
    pdf.set_text_color(0, 0, 0)


def _recipient(pdf: _LettersPdf, letter: PrintedLetter) -> None:
    pdf.set_font(FONT, "", 11)
    pdf.set_xy(RECIPIENT_X, max(RECIPIENT_Y, pdf.get_y() + 8))
    for line in letter.recipient:
        pdf.set_x(RECIPIENT_X)
        _line(pdf, line, 5.5, width=pdf.w - MARGIN - RECIPIENT_X)


def _place_and_date(
    pdf: _LettersPdf, practice: PracticeSettings, now: datetime
) -> None:
    """ "Paris, le 3 décembre 2026", or "Le 3 décembre 2026" without `[practice] city`."""
    day = long_day(now.date())
    city = practice.city.strip()
    text = f"{city}, le {day}" if city else f"Le {day}"
    pdf.set_font(FONT, "", BODY_SIZE)
    pdf.set_xy(MARGIN, max(DATE_Y, pdf.get_y() + 8))
    pdf.cell(0, LINE, text, align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _subject(pdf: _LettersPdf, letter: PrintedLetter) -> None:
    pdf.ln(LINE)
    pdf.set_font(FONT, "B", BODY_SIZE)
    _line(pdf, f"Objet : {letter.subject}", LINE)
    pdf.ln(LINE)


def _body(pdf: _LettersPdf, body: str) -> None:
    """The templates' plain text: a blank line parts paragraphs, `- ` starts an item."""
    width = pdf.w - 2 * MARGIN
    for line in body.splitlines():
        if not line.strip():
            pdf.ln(LINE / 2)
        elif line.startswith("- "):
            pdf.set_font(FONT, "B", BODY_SIZE)
            _line(pdf, "• " + line[2:].strip(), LINE)
        elif line.startswith(" "):
            # An item's why and where, indented under its label as in the e-mail.
            pdf.set_font(FONT, "", BODY_SIZE)
            pdf.set_x(MARGIN + 4)
            _line(pdf, line.strip(), LINE, width=width - 4)
        else:
            pdf.set_font(FONT, "", BODY_SIZE)
            _line(pdf, line.strip(), LINE)


def _line(pdf: _LettersPdf, text: str, height: float, *, width: float = 0) -> None:
    """`text` from the current x, wrapped within `width` (0: to the right margin)."""
    x = pdf.get_x()
    available = width or pdf.w - pdf.r_margin - x
    for row in _wrap(pdf, text, available):
        pdf.set_x(x)
        pdf.cell(available, height, row, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _wrap(pdf: _LettersPdf, text: str, width: float) -> list[str]:
    """`text` cut at spaces into rows that fit `width` in the current font.

    fpdf2's own `multi_cell` measures each row again at every character: 500 letters
    took half a minute. Words are measured once here; a no-break space (before `:`, in
    "1er mars") never becomes a cut, and a word wider than a row gets a row of its own.
    """
    space = pdf.word_width(" ")
    rows: list[str] = []
    words: list[str] = []
    used = 0.0
    for word in text.split(" "):
        size = pdf.word_width(word)
        if words and used + space + size > width:
            rows.append(" ".join(words))
            words, used = [], 0.0
        used += (space if words else 0.0) + size
        words.append(word)
    rows.append(" ".join(words))
    return rows
