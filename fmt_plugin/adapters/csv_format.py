"""How a practice's CSV export is written: encoding, separator, header spelling and dates.

French Excel saves `;`-separated files in Windows-1252 (or UTF-8 with a BOM), dates as
JJ/MM/AAAA, CRLF line ends and a `;` after the last cell; other EHR exports write UTF-8,
commas and ISO dates. `CsvFormat` holds what `[adapters.csv_roster]` sets (`None`: detect
it), and this module detects the rest, file by file. Nothing here quotes a cell: a cell may be
a patient's name.

Encoding: a BOM decides (UTF-8, UTF-16); otherwise the configured encoding, or, detected,
UTF-8 when the bytes are valid UTF-8 and else Windows-1252. Windows-1252 is what French Excel
and Windows EHRs write; it is also Latin-1 (ISO-8859-1) for every printable character (the
two differ only on 0x80-0x9F, control characters in Latin-1 that no text export holds), so
a Latin-1 file is read right too. ISO-8859-15 (€, œ, Œ at other places) must be set by hand.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from fmt_plugin.accents import without_accents

#: The separators detected, and how messages name them.
DELIMITERS = {",": "virgule", ";": "point-virgule", "\t": "tabulation"}
#: `delimiter` values meaning a tab, besides the character itself.
_TAB_WORDS = ("tab", "tabulation")

#: Encodings a setting may name (Python's canonical codec names), with their usual name.
ENCODINGS = {
    "utf-8": "UTF-8",
    "cp1252": "Windows-1252",
    "iso8859-1": "ISO-8859-1 (Latin-1)",
    "iso8859-15": "ISO-8859-15 (Latin-9)",
}
DETECTED_FALLBACK = "cp1252"

ISO_DATE = "AAAA-MM-JJ"
FRENCH_DATE = "JJ/MM/AAAA"
#: `date_format` values: AUTO accepts both forms.
AUTO = "auto"
_DATE_SPELLINGS = {
    "jj/mm/aaaa": FRENCH_DATE,
    "dd/mm/yyyy": FRENCH_DATE,
    "%d/%m/%y": FRENCH_DATE,
    "aaaa-mm-jj": ISO_DATE,
    "yyyy-mm-dd": ISO_DATE,
    "%y-%m-%d": ISO_DATE,
}
#: Dates outside these years are typing slips (`0201` for `2001`), not birth or act dates.
EARLIEST_YEAR = 1900
LATEST_YEAR = 2100

# An optional time after the date (`12/03/2025 14:30`, `2025-03-12T14:30:00`): Excel writes
# one when the EHR exported a date-time; only the day counts.
_TIME = r"(?:[ T][0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?)?"
_ISO = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})" + _TIME)
_FRENCH = re.compile(r"([0-9]{1,2})([/.-])([0-9]{1,2})\2([0-9]{4})" + _TIME)
_TWO_DIGIT_YEAR = re.compile(r"[0-9]{1,2}([/.-])[0-9]{1,2}\1[0-9]{2}" + _TIME)

_BINARY_SIGNATURES = (
    (
        b"PK\x03\x04",
        "classeur Excel (.xlsx) ou archive ZIP : l'enregistrer au format CSV",
    ),
    (b"\xd0\xcf\x11\xe0", "classeur Excel (.xls) : l'enregistrer au format CSV"),
    (b"%PDF", "document PDF, pas un fichier CSV"),
)
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


@dataclass(frozen=True)
class CsvFormat:
    """How the files are written; `None` for a part to detect in each file."""

    delimiter: str | None = None
    encoding: str | None = None
    date_format: str = AUTO


@dataclass(frozen=True)
class DecodedText:
    """A file's text and the encoding it was read in (`how` says whether it was detected)."""

    text: str
    encoding: str
    how: str


class UnreadableText(Exception):
    """The bytes are no text in the encoding asked or detected; the message says why."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.message = message
        self.line = line
        super().__init__(message)


# --- Settings ----------------------------------------------------------------------------------


def delimiter_setting(value: str) -> str | None:
    """The separator a `delimiter` setting names (`None` for `auto`); ValueError otherwise."""
    if value.strip().lower() == AUTO:
        return None
    if value.strip().lower() in _TAB_WORDS:
        return "\t"
    if value in DELIMITERS:
        return value
    raise ValueError(value)


def encoding_setting(value: str) -> str | None:
    """The codec an `encoding` setting names (`None` for `auto`); ValueError otherwise."""
    if value.strip().lower() == AUTO:
        return None
    try:
        name = codecs.lookup(value.strip()).name
    except LookupError:
        raise ValueError(value) from None
    if name == "utf-8-sig":
        name = "utf-8"
    if name not in ENCODINGS:
        raise ValueError(value)
    return name


def date_format_setting(value: str) -> str:
    """The date form a `date_format` setting names (AUTO, ISO_DATE or FRENCH_DATE)."""
    folded = value.strip().lower()
    if folded == AUTO:
        return AUTO
    if folded in _DATE_SPELLINGS:
        return _DATE_SPELLINGS[folded]
    raise ValueError(value)


# --- Bytes to text -----------------------------------------------------------------------------


def decode(data: bytes, encoding: str | None) -> DecodedText:
    """The text of a CSV file's bytes, BOM removed; raises UnreadableText.

    A BOM decides the encoding; otherwise `encoding`, or UTF-8 if the bytes are valid UTF-8,
    else Windows-1252 (see the module docstring). Binary files (a spreadsheet, a PDF, UTF-16
    without a BOM) are refused before decoding, naming what they look like.
    """
    if data.startswith(codecs.BOM_UTF8):
        return DecodedText(
            _strict(data, "utf-8", len(codecs.BOM_UTF8)), "utf-8", "indiqué par le BOM"
        )
    if data.startswith(_UTF16_BOMS):
        return DecodedText(
            _strict(data, "utf-16", 0).lstrip("\ufeff"), "utf-16", "indiqué par le BOM"
        )
    for signature, what in _BINARY_SIGNATURES:
        if data.startswith(signature):
            raise UnreadableText(what)
    if b"\x00" in data:
        raise UnreadableText(
            "fichier binaire (octets nuls), pas un fichier CSV texte ; "
            "un export « Texte Unicode » doit commencer par sa marque d'ordre (BOM)"
        )
    if encoding is not None:
        return DecodedText(
            _strict(data, encoding, 0), encoding, "imposé par la configuration"
        )
    try:
        return DecodedText(data.decode("utf-8"), "utf-8", "détecté")
    except UnicodeDecodeError:
        pass
    try:
        return DecodedText(
            _strict(data, DETECTED_FALLBACK, 0), DETECTED_FALLBACK, "détecté"
        )
    except UnreadableText as exc:
        raise UnreadableText(
            "ni UTF-8 ni Windows-1252 ; " + exc.message + " : indiquer l'encodage du "
            "fichier dans [adapters.csv_roster] encoding",
            exc.line,
        ) from None


def _strict(data: bytes, encoding: str, skip: int) -> str:
    try:
        return data[skip:].decode(encoding)
    except UnicodeDecodeError as exc:
        offset = skip + exc.start
        line = data.count(b"\n", 0, offset) + 1
        raise UnreadableText(
            f"octet n° {offset} invalide en {encoding_name(encoding)}", line
        ) from exc


def encoding_name(encoding: str) -> str:
    """How messages name a codec: `Windows-1252`, `UTF-8`…"""
    return ENCODINGS.get(encoding, encoding.upper())


# --- Header and separator ----------------------------------------------------------------------

#: Other spellings of our column names met in exports, once folded (see `fold_name`).
ALIASES = {
    "date_de_naissance": "date_naissance",
    "naissance": "date_naissance",
    "id_patient": "patient_id",
    "identifiant_patient": "patient_id",
    "matricule_ins": "ins",
    "tel": "telephone",
    "courriel": "email",
    "e_mail": "email",
    "mail": "email",
    "date_acte": "date",
    "date_de_l_acte": "date",
    "systeme": "system",
    "code_acte": "code",
    "complementaire_sante_solidaire": "c2s",
}


def fold_name(name: str) -> str:
    """A header cell as compared with our names: no accents, lower case, `_` between words.

    `Date naissance`, `DATE_NAISSANCE` and `date-naissance` all give `date_naissance`.
    """
    plain = without_accents(name).casefold()
    return "_".join(re.findall(r"[a-z0-9]+", plain))


def canonical_name(name: str) -> str:
    """Our column name for a header cell (its folded form when it is none of ours)."""
    folded = fold_name(name)
    return ALIASES.get(folded, folded)


def choose_delimiter(header_line: str, columns: Iterable[str]) -> str:
    """The separator under which `header_line` names the most of `columns`.

    Ties (a header naming none of them: no header, or not a CSV) go to the separator that
    cuts the line into the most fields, then to the comma.
    """
    wanted = set(columns)

    def score(delimiter: str) -> tuple[int, int, int]:
        cells = next(csv.reader([header_line], delimiter=delimiter), [])
        named = len({canonical_name(cell) for cell in cells} & wanted)
        return named, len(cells), delimiter == ","

    return max(DELIMITERS, key=score)


def describe(delimiter: str, delimiter_how: str, decoded: DecodedText) -> str:
    """`encodage Windows-1252 détecté, séparateur « ; » détecté`, for a header message."""
    shown = "tabulation" if delimiter == "\t" else f"« {delimiter} »"
    return (
        f"encodage {encoding_name(decoded.encoding)} {decoded.how}, "
        f"séparateur {shown} {delimiter_how}"
    )


# --- Cells -------------------------------------------------------------------------------------


class BadDate(ValueError):
    """A date cell is unusable; the message says what was expected, never the value."""


def parse_date(text: str, form: str) -> date:
    """The day a cell names in `form` (AUTO: JJ/MM/AAAA or AAAA-MM-JJ); raises BadDate."""
    expected = _expected(form)
    if not text:
        raise BadDate(f"absente, attendu {expected}")
    match = _ISO.fullmatch(text) if form in (AUTO, ISO_DATE) else None
    if match is not None:
        year, month, day = match.groups()
    else:
        match = _FRENCH.fullmatch(text) if form in (AUTO, FRENCH_DATE) else None
        if match is None:
            if form != ISO_DATE and _TWO_DIGIT_YEAR.fullmatch(text):
                raise BadDate(f"avec l'année sur 2 chiffres, attendu {expected}")
            raise BadDate(f"invalide, attendu {expected}")
        day, _, month, year = match.groups()
    try:
        value = date(int(year), int(month), int(day))
    except ValueError:
        raise BadDate(f"invalide, attendu {expected}") from None
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise BadDate(f"hors limites, attendu entre {EARLIEST_YEAR} et {LATEST_YEAR}")
    return value


def _expected(form: str) -> str:
    return f"{FRENCH_DATE} ou {ISO_DATE}" if form == AUTO else form


def lookup_folded(text: str, table: Mapping[str, str]) -> str | None:
    """`table`'s value for `text` compared without case or accents (`Féminin` = `feminin`)."""
    return table.get(fold_name(text))
