"""Parse HL7 v2 ER7 text (bytes or str) into a `Message` of segments, fields and their parts.

This is the ingest hot path: segments and fields are split when the message is parsed;
repetitions, components, subcomponents and escape sequences only when a field is first read,
then cached. It knows no message type: ORU, VXU and ACK semantics live elsewhere.

Choices a reader should know about:

- Segments are separated by `\\r`, `\\n` or `\\r\\n`. Blank and whitespace-only lines are
  skipped, and trailing spaces and tabs of a segment are dropped (editors add them; hl7apy
  strips them too).
- Fields are numbered as HL7 does: in MSH, field 1 is the field separator and field 2 the
  encoding characters, so `msh.value(9)` is MSH-9.
- Values read through `Segment.value`, `components` and `field` are unescaped (see `unescape`);
  `Segment.raw` gives a field as received.
- Errors are `Hl7ParseError`s carrying an HL7 table 0357 code and the segment, its position and
  the field at fault; their messages never quote the message's content (it may be health data).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, TypeAlias

from fmt_plugin.errors import Hl7ParseError

#: A field's repetitions → components → subcomponents, all strings.
FieldTree: TypeAlias = tuple[tuple[tuple[str, ...], ...], ...]

#: Splits one segment line, given (name, 1-based position, line, separators), into
#: `(fields, trees)`: `fields[n]` is field n as received (`fields[0]` the segment name, MSH-1
#: and MSH-2 included), and `trees` the still-escaped trees of the fields it has split (the
#: others are split from `fields` when read).
FieldTokenizer: TypeAlias = Callable[
    [str, int, str, "Encoding"], tuple[list[str], dict[int, FieldTree]]
]

DEFAULT_ENCODING_CHARACTERS: Final = "^~\\&"
UTF8_BOM: Final = b"\xef\xbb\xbf"

# HL7 table 0211 names (MSH-18) → Python codecs. Only single-byte and UTF-8 charsets: the
# header must be readable as ASCII before decoding, which UTF-16/32 and the CJK sets are not.
_CHARSETS: Final = {
    "ASCII": "ascii",
    "ISO IR6": "ascii",
    "8859/1": "latin-1",
    "ISO IR100": "latin-1",
    "8859/2": "iso8859-2",
    "ISO IR101": "iso8859-2",
    "8859/3": "iso8859-3",
    "ISO IR109": "iso8859-3",
    "8859/4": "iso8859-4",
    "ISO IR110": "iso8859-4",
    "8859/5": "iso8859-5",
    "ISO IR144": "iso8859-5",
    "8859/6": "iso8859-6",
    "ISO IR127": "iso8859-6",
    "8859/7": "iso8859-7",
    "ISO IR126": "iso8859-7",
    "8859/8": "iso8859-8",
    "ISO IR138": "iso8859-8",
    "8859/9": "iso8859-9",
    "ISO IR148": "iso8859-9",
    "8859/15": "iso8859-15",
    "ISO IR203": "iso8859-15",
    "UNICODE UTF-8": "utf-8",
    "UTF-8": "utf-8",  # not in table 0211, but what many senders write
    "ISO IR192": "utf-8",
}
_ISO_8859_SPELLING: Final = re.compile(r"ISO[-_ ]?8859[-_/ ]?([0-9]{1,2})")
_DEFAULT_CODEC: Final = "utf-8"
# What French senders that declare nothing actually send when it is not UTF-8. cp1252 leaves
# five bytes undefined; latin-1 decodes anything, so it is the last resort.
_UNDECLARED_FALLBACK: Final = "cp1252"
_LAST_RESORT: Final = "latin-1"

_BYTES_HEADER: Final = re.compile(rb"[ \t\r\n]*MSH.", re.DOTALL)
_SEGMENT_NAME: Final = re.compile(r"[A-Z][A-Z0-9]{2}")
_TRAILING_BLANKS: Final = " \t\f\v"
_REQUIRED_MSH_FIELDS: Final = (9, 10, 12)


@dataclass(frozen=True, slots=True)
class Encoding:
    """The separators of a message: MSH-1 and MSH-2.

    `truncation` is the v2.7 truncation character (a fifth MSH-2 character) when the message
    declares one; it is kept for writing answers, but has no meaning when reading values.
    """

    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"
    truncation: str | None = None

    @property
    def characters(self) -> str:
        """MSH-2 as it should be written back: component, repetition, escape, subcomponent."""
        return (
            self.component
            + self.repetition
            + self.escape
            + self.subcomponent
            + (self.truncation or "")
        )


class Segment:
    """One segment: its name, its 1-based position in the message, and its fields.

    Fields, repetitions, components and subcomponents are numbered from 1, as in HL7. An absent
    part reads as "". A field is split and unescaped when first read, then cached (without a
    lock: two threads reading one field at once may both build it, harmlessly).
    """

    __slots__ = (
        "_cache",
        "_charset",
        "_encoding",
        "_escaped",
        "_fields",
        "index",
        "name",
    )

    def __init__(
        self,
        name: str,
        index: int,
        fields: list[str],
        encoding: Encoding,
        charset: str,
        escaped: dict[int, FieldTree] | None = None,
    ) -> None:
        self.name = name
        self.index = index
        self._fields = fields
        self._encoding = encoding
        self._charset = charset
        self._escaped = escaped
        self._cache: dict[int, FieldTree] | None = None

    def __repr__(self) -> str:
        # Never the content: a field may be health data.
        return f"<Segment {self.name} #{self.index}>"

    @property
    def field_count(self) -> int:
        """The number of the last field written, trailing empty fields included."""
        return len(self._fields) - 1

    def raw(self, field: int) -> str:
        """Field `field` as received, still escaped; "" when absent."""
        if field < 1:
            _check_position(field)
        fields = self._fields
        return fields[field] if field < len(fields) else ""

    def field(self, field: int) -> FieldTree:
        """Field `field` as repetitions → components → subcomponents, unescaped.

        An empty or absent field has no repetition: `()`. MSH-1 and MSH-2 are one value each,
        never split.
        """
        cache = self._cache
        if cache is None:
            cache = self._cache = {}
        else:
            tree = cache.get(field)
            if tree is not None:
                return tree
        tree = cache[field] = self._build(field)
        return tree

    def value(
        self, field: int, component: int = 1, subcomponent: int = 1, repetition: int = 1
    ) -> str:
        """One unescaped value, "" when absent (e.g. `value(3, 4, 2, 2)` is PID-3[2].4.2)."""
        if component < 1 or subcomponent < 1 or repetition < 1:
            _check_position(0)
        raw = self.raw(field)
        if _is_plain(raw, self._encoding):
            # One value, nothing to split or unescape: no tree to build (the hot path).
            return raw if component == subcomponent == repetition == 1 else ""
        try:
            return self.field(field)[repetition - 1][component - 1][subcomponent - 1]
        except IndexError:
            return ""

    def repetitions(self, field: int) -> int:
        """How many repetitions field `field` has; 0 when it is empty or absent."""
        return len(self.field(field))

    def components(self, field: int, repetition: int = 1) -> list[str]:
        """The unescaped components of one repetition, each reduced to its first subcomponent.

        Use `field()` when subcomponents matter.
        """
        if repetition < 1:
            _check_position(0)
        if repetition == 1 and (field > 2 or self.name != "MSH"):
            raw = self.raw(field)
            if _components_only(raw, self._encoding):
                # Components only: split them without building (and caching) the tree.
                return raw.split(self._encoding.component) if raw else []
        tree = self.field(field)
        if repetition > len(tree):
            return []
        return [component[0] for component in tree[repetition - 1]]

    def _build(self, field: int) -> FieldTree:
        """The unescaped tree of one field (see `field`)."""
        raw = self.raw(field)
        if not raw:
            return ()
        if field <= 2 and self.name == "MSH":
            return (((raw,),),)
        encoding = self._encoding
        if self._escaped is not None and field in self._escaped:
            tree = self._escaped[field]
        else:
            tree = _split_field(raw, encoding)
        if encoding.escape not in raw:
            return tree
        charset = self._charset
        return tuple(
            tuple(
                tuple(unescape(sub, encoding, charset) for sub in component)
                for component in repetition
            )
            for repetition in tree
        )


def _components_only(raw: str, encoding: Encoding) -> bool:
    """Whether a field is at most components: no repetition, subcomponent or escape."""
    return (
        encoding.repetition not in raw
        and encoding.escape not in raw
        and encoding.subcomponent not in raw
    )


def _is_plain(raw: str, encoding: Encoding) -> bool:
    """Whether a field is one value: no separator, no escape character in it."""
    return encoding.component not in raw and _components_only(raw, encoding)


def _split_field(raw: str, encoding: Encoding) -> FieldTree:
    """Split one escaped field into repetitions → components → subcomponents (no unescaping)."""
    component, subcomponent = encoding.component, encoding.subcomponent
    if (
        component not in raw
        and subcomponent not in raw
        and encoding.repetition not in raw
    ):
        return (((raw,),),)
    # List comprehensions and a split only where a subcomponent separator occurs: this is
    # the parser's innermost loop, and generator expressions cost twice as much here.
    if subcomponent not in raw:
        return tuple(
            [
                tuple([(part,) for part in repetition.split(component)])
                for repetition in raw.split(encoding.repetition)
            ]
        )
    return tuple(
        [
            tuple(
                [
                    tuple(part.split(subcomponent)) if subcomponent in part else (part,)
                    for part in repetition.split(component)
                ]
            )
            for repetition in raw.split(encoding.repetition)
        ]
    )


class Message:
    """A parsed message: its separators, the codec its bytes were decoded with, its segments.

    `charset` is the Python codec used: the one MSH-18 names, or, when MSH-18 is empty,
    "utf-8" if the bytes are valid UTF-8 and otherwise "cp1252" (or "latin-1" for the few bytes
    cp1252 leaves undefined) — what French senders that declare nothing actually send. `text`
    is the decoded message, its segments joined with "\\r".
    """

    __slots__ = ("_by_name", "charset", "encoding", "segments", "text")

    def __init__(
        self,
        *,
        encoding: Encoding,
        charset: str,
        segments: tuple[Segment, ...],
        text: str,
    ) -> None:
        self.encoding = encoding
        self.charset = charset
        self.segments = segments
        self.text = text
        self._by_name: dict[str, list[Segment]] | None = None

    def __repr__(self) -> str:
        # The control id is what logs may carry; nothing else from the content.
        return (
            f"<Message {self.message_code}^{self.trigger_event} "
            f"control_id={self.control_id!r} segments={len(self.segments)}>"
        )

    def first(self, name: str) -> Segment | None:
        """The first segment called `name`, or None."""
        found = self._index().get(name)
        return found[0] if found else None

    def all(self, name: str) -> list[Segment]:
        """Every segment called `name`, in message order."""
        return list(self._index().get(name, ()))

    def _index(self) -> dict[str, list[Segment]]:
        if self._by_name is None:
            by_name: dict[str, list[Segment]] = {}
            for segment in self.segments:
                by_name.setdefault(segment.name, []).append(segment)
            self._by_name = by_name
        return self._by_name

    @property
    def msh(self) -> Segment:
        """The MSH segment (always the first)."""
        return self.segments[0]

    @property
    def message_code(self) -> str:
        """MSH-9.1, e.g. `ORU`."""
        return self.msh.value(9, 1)

    @property
    def trigger_event(self) -> str:
        """MSH-9.2, e.g. `R01`."""
        return self.msh.value(9, 2)

    @property
    def structure(self) -> str:
        """MSH-9.3, e.g. `ORU_R01` ("" when the sender left it out)."""
        return self.msh.value(9, 3)

    @property
    def control_id(self) -> str:
        """MSH-10, the message control id an ACK echoes in MSA-2."""
        return self.msh.value(10)

    @property
    def processing_id(self) -> str:
        """MSH-11.1: `P` production, `T` training, `D` debugging."""
        return self.msh.value(11, 1)

    @property
    def version(self) -> str:
        """MSH-12.1, e.g. `2.5`."""
        return self.msh.value(12, 1)

    @property
    def accept_ack_type(self) -> str:
        """MSH-15 (enhanced mode): `AL`, `NE`, `ER`, `SU`, or "" in original mode."""
        return self.msh.value(15)

    @property
    def application_ack_type(self) -> str:
        """MSH-16 (enhanced mode): `AL`, `NE`, `ER`, `SU`, or "" in original mode."""
        return self.msh.value(16)

    @property
    def sending_application(self) -> str:
        """MSH-3.1."""
        return self.msh.value(3, 1)

    @property
    def sending_facility(self) -> str:
        """MSH-4.1."""
        return self.msh.value(4, 1)

    @property
    def receiving_application(self) -> str:
        """MSH-5.1."""
        return self.msh.value(5, 1)

    @property
    def receiving_facility(self) -> str:
        """MSH-6.1."""
        return self.msh.value(6, 1)

    @property
    def charset_name(self) -> str:
        """MSH-18's first repetition as written (e.g. `UNICODE UTF-8`), "" when empty."""
        return self.msh.value(18)


# --- decoding ------------------------------------------------------------------------------


def charset_codec(name: str) -> str:
    """The Python codec for an MSH-18 charset name; `Hl7ParseError` (103) when unknown.

    Names are compared without surrounding blanks and case-insensitively; the usual
    non-HL7 spellings of the 8859 parts (`ISO-8859-1`, `ISO8859-15`, `ISO_8859-1`) are accepted.
    """
    key = name.strip().upper()
    codec = _CHARSETS.get(key)
    if codec is None and (spelled := _ISO_8859_SPELLING.fullmatch(key)) is not None:
        codec = _CHARSETS.get(f"8859/{int(spelled.group(1))}")
    if codec is None:
        raise Hl7ParseError(
            "jeu de caractères inconnu ou non pris en charge (table HL7 0211 : "
            "ASCII, 8859/1 à 8859/9, 8859/15, UNICODE UTF-8)",
            code=103,
            segment="MSH",
            segment_index=1,
            field=18,
        )
    return codec


def decode_message(raw: bytes) -> tuple[str, str]:
    """The message's text and the Python codec used, MSH-18 being read from the bytes.

    A UTF-8 byte order mark is dropped. A declared charset must decode every byte (else
    `Hl7ParseError` 102 at MSH-18); an unknown one is `Hl7ParseError` 103. When MSH-18 is empty,
    UTF-8 is tried, then cp1252, then latin-1 (which cannot fail).
    """
    raw = raw.removeprefix(UTF8_BOM)
    declared = declared_charset(raw)
    if not declared:
        for codec in (_DEFAULT_CODEC, _UNDECLARED_FALLBACK):
            try:
                return raw.decode(codec), codec
            except UnicodeDecodeError:
                continue
        return raw.decode(_LAST_RESORT), _LAST_RESORT
    codec = charset_codec(declared)
    try:
        return raw.decode(codec), codec
    except UnicodeDecodeError as exc:
        raise Hl7ParseError(
            f"octet invalide pour le jeu de caractères déclaré ({codec}) "
            f"à la position {exc.start} du message",
            code=102,
            segment="MSH",
            segment_index=1,
            field=18,
        ) from exc


def declared_charset(raw: bytes) -> str:
    """MSH-18's first repetition read from undecoded bytes, stripped; "" when absent or empty.

    MSH must be the first line (blank lines aside). A name that is not ASCII is returned with
    its bytes replaced, so `charset_codec` rejects it as unknown.
    """
    if raw.startswith(b"MSH") and len(raw) > 3:
        start = 0
    else:
        header = _BYTES_HEADER.match(raw)
        if header is None:
            return ""
        start = header.end() - 4
    separator = raw[start + 3 : start + 4]
    # Two bounded finds: a regex for [\r\n] is several times slower on this hot path.
    end = raw.find(b"\r", start)
    if end < 0:
        end = len(raw)
    line_feed = raw.find(b"\n", start, end)
    if line_feed >= 0:
        end = line_feed
    parts = raw[start:end].split(separator, 18)
    # parts[0] is "MSH" and parts[1] MSH-2, so MSH-n is parts[n - 1].
    if len(parts) < 18:
        return ""
    value = parts[17]
    repetition = parts[1][1:2] or b"~"
    if repetition != separator:
        value = value.split(repetition, 1)[0]
    return value.strip().decode("ascii", errors="replace")


def split_segments(text: str) -> list[str]:
    """The segment lines of `text`: split at CR, LF or CRLF, trailing blanks dropped, blank
    lines skipped."""
    if "\n" in text:
        text = text.replace("\r\n", "\r").replace("\n", "\r")
    lines = []
    for line in text.split("\r"):
        line = line.rstrip(_TRAILING_BLANKS)
        if line:
            lines.append(line)
    return lines


# --- unescaping ------------------------------------------------------------------------------


def unescape(text: str, encoding: Encoding, charset: str = _DEFAULT_CODEC) -> str:
    """`text` with its HL7 escape sequences (v2.5 § 2.7) replaced.

    hl7apy 1.3.5 only escapes (`TextualDataType._escape_value`); what it writes for a separator
    or the escape character (`\\F\\ \\S\\ \\T\\ \\R\\ \\E\\`) and for highlighting (`\\H\\`
    `\\N\\`) reads back here as the original text, which `test_hl7_differential` checks. The
    rest is ours, chosen for plain-text values:

    - `\\Xhh…\\`: the bytes decoded with the message's charset (`\\XC3A9\\` is "é" in UTF-8);
      kept as written when the hex or the bytes are invalid.
    - `\\P\\` (v2.7): the truncation character, when MSH-2 declares one.
    - `\\.br\\` → "\\n"; `\\.sp n\\` → n line breaks (1 when n is absent); `\\.sk n\\` → n
      spaces; `\\.ce\\` → "\\n"; `\\.fi\\ \\.nf\\ \\.in n\\ \\.ti n\\` (layout) → "".
    - `\\H\\` and `\\N\\` (highlighting on/off) → "".
    - Anything else (`\\Cxxyy\\` and `\\Mxxyyzz\\` charset switches, `\\Z…\\` local escapes,
      unknown commands, an unterminated sequence) is kept as written, so no text is lost.
    """
    escape = encoding.escape
    start = text.find(escape)
    if start < 0:
        return text
    parts: list[str] = []
    done = 0
    while start >= 0:
        end = text.find(escape, start + 1)
        if end < 0:
            break
        replacement = _translate(text[start + 1 : end], encoding, charset)
        if replacement is None:
            # Kept as written; its closing character may open the next, valid, sequence
            # (a stray escape character in `C:\dir\X0D\` must not hide the `\X0D\`).
            start = end
            continue
        parts.append(text[done:start])
        parts.append(replacement)
        done = end + 1
        start = text.find(escape, done)
    parts.append(text[done:])
    return "".join(parts)


@lru_cache(maxsize=64)
def _simple_escapes(encoding: Encoding) -> dict[str, str]:
    escapes = {
        "F": encoding.field,
        "S": encoding.component,
        "T": encoding.subcomponent,
        "R": encoding.repetition,
        "E": encoding.escape,
        "H": "",
        "N": "",
    }
    if encoding.truncation:
        escapes["P"] = encoding.truncation
    return escapes


_FORMATTING: Final = re.compile(r"\.(br|sp|sk|ce|fi|nf|in|ti) ?([+-]?[0-9]+)?")


def _translate(sequence: str, encoding: Encoding, charset: str) -> str | None:
    """What one escape sequence (without its delimiters) stands for; None: keep it as is."""
    simple = _simple_escapes(encoding).get(sequence)
    if simple is not None:
        return simple
    if sequence[:1] == "X":
        hex_digits = sequence[1:]
        if not hex_digits or len(hex_digits) % 2:
            return None
        try:
            return bytes.fromhex(hex_digits).decode(charset)
        except (ValueError, UnicodeDecodeError):
            return None
    match = _FORMATTING.fullmatch(sequence)
    if match is None:
        return None
    command, argument = match.groups()
    count = int(argument) if argument else 1
    if command in ("br", "ce"):
        return "\n" if not argument else None
    if command == "sp":
        return "\n" * count if count >= 0 else None
    if command == "sk":
        return " " * count if count >= 0 else None
    # fi, nf (fill mode) and in, ti (indentation) only lay text out.
    return ""


# --- parsing ---------------------------------------------------------------------------------


def parse_message(raw: bytes | str) -> Message:
    """Parse one ER7 message; `Hl7ParseError` when it cannot be read.

    Bytes are decoded with `decode_message`; text is taken as already decoded, MSH-18 then only
    naming the codec used for `\\X…\\` escapes (UTF-8 when empty).
    """
    return build_message(raw)


def build_message(raw: bytes | str, tokenizer: FieldTokenizer | None = None) -> Message:
    """What both backends share: decoding, segment lines, MSH encoding, checks.

    `tokenizer` splits each segment line into fields; None is ours (`str.split`); the
    reference backend passes one built on hl7apy.

    Raises `Hl7ParseError`: first segment not MSH or MSH repeated (100), invalid segment name
    (100, with its position), bad encoding characters (101/102 at MSH-1 or MSH-2), MSH-9, MSH-10
    or MSH-12 empty or absent (101), charset problems (102/103 at MSH-18).
    """
    if isinstance(raw, str):
        text, codec = raw.removeprefix("\ufeff"), ""
    else:
        text, codec = decode_message(bytes(raw))
    # Blanks before MSH are tolerated, as hl7apy does (`message.lstrip()`).
    lines = split_segments(text.lstrip(" \t\r\n"))
    if not lines or not lines[0].startswith("MSH"):
        raise Hl7ParseError(
            "le message ne commence pas par un segment MSH",
            code=100,
            segment="MSH",
            segment_index=1,
        )
    encoding = read_encoding(lines[0])
    separator = encoding.field
    msh_parts = lines[0].split(separator)
    msh_fields = ["MSH", separator, *msh_parts[1:]]
    if not codec:
        codec = _codec_of_text(msh_fields, encoding)
    segments: list[Segment] = []
    if tokenizer is None:
        segments.append(Segment("MSH", 1, msh_fields, encoding, codec))
        for index, line in enumerate(lines[1:], 2):
            fields = line.split(separator)
            name = fields[0]
            if not _SEGMENT_NAME.fullmatch(name) or name == "MSH":
                _check_segment_name(name, index)
            segments.append(Segment(name, index, fields, encoding, codec))
    else:
        for index, line in enumerate(lines, 1):
            name = line.split(separator, 1)[0]
            if index > 1:
                _check_segment_name(name, index)
            fields, escaped = tokenizer(name, index, line, encoding)
            segments.append(Segment(name, index, fields, encoding, codec, escaped))
    message = Message(
        encoding=encoding,
        charset=codec,
        segments=tuple(segments),
        text="\r".join(lines),
    )
    _check_header(message.msh)
    return message


def read_encoding(msh: str) -> Encoding:
    """The separators declared by an MSH line (MSH-1 and MSH-2).

    MSH-2 normally has four characters (component, repetition, escape, subcomponent), five from
    v2.7 (then the truncation character). With fewer, the missing ones take their standard
    value (`^~\\&`, by position) unless that value is already used: then the line is ambiguous
    and rejected. Every separator must be distinct and be neither a letter, a digit, a blank
    nor a control character (no sender uses them; they mean a corrupt header).
    """
    if len(msh) < 4:
        raise Hl7ParseError(
            "séparateur de champ absent",
            code=101,
            segment="MSH",
            segment_index=1,
            field=1,
        )
    separator = msh[3]
    return _read_encoding(separator, msh[4:].split(separator, 1)[0])


# Senders keep their separators: the check runs once per distinct MSH-1/MSH-2.
@lru_cache(maxsize=256)
def _read_encoding(separator: str, declared: str) -> Encoding:
    """`read_encoding` once MSH-1 and MSH-2 (`declared`) are cut out."""
    if not _usable_separator(separator):
        raise Hl7ParseError(
            "séparateur de champ invalide (lettre, chiffre, blanc ou caractère de contrôle)",
            code=102,
            segment="MSH",
            segment_index=1,
            field=1,
        )
    if not declared:
        raise Hl7ParseError(
            "caractères d'encodage absents",
            code=101,
            segment="MSH",
            segment_index=1,
            field=2,
        )
    if len(declared) > 5:
        raise Hl7ParseError(
            f"{len(declared)} caractères d'encodage (4 attendus, 5 à partir de la v2.7)",
            code=102,
            segment="MSH",
            segment_index=1,
            field=2,
        )
    characters = declared
    if len(declared) < 4:
        characters += DEFAULT_ENCODING_CHARACTERS[len(declared) :]
        taken = separator + declared
        if any(default in taken for default in characters[len(declared) :]):
            raise Hl7ParseError(
                f"{len(declared)} caractères d'encodage seulement, et les valeurs par défaut "
                "des manquants sont déjà prises : lecture ambiguë",
                code=101,
                segment="MSH",
                segment_index=1,
                field=2,
            )
    all_separators = separator + characters
    if len(set(all_separators)) != len(all_separators):
        raise Hl7ParseError(
            "caractères d'encodage non distincts",
            code=102,
            segment="MSH",
            segment_index=1,
            field=2,
        )
    if not all(_usable_separator(character) for character in characters):
        raise Hl7ParseError(
            "caractère d'encodage invalide (lettre, chiffre, blanc ou caractère de contrôle)",
            code=102,
            segment="MSH",
            segment_index=1,
            field=2,
        )
    return Encoding(
        field=separator,
        component=characters[0],
        repetition=characters[1],
        escape=characters[2],
        subcomponent=characters[3],
        truncation=characters[4] if len(characters) == 5 else None,
    )


def _usable_separator(character: str) -> bool:
    return not (
        character.isalnum() or character.isspace() or not character.isprintable()
    )


def _codec_of_text(msh_fields: list[str], encoding: Encoding) -> str:
    """The codec MSH-18 names when the message was given as text (UTF-8 when empty)."""
    if len(msh_fields) <= 18:
        return _DEFAULT_CODEC
    name = msh_fields[18].split(encoding.repetition, 1)[0]
    return charset_codec(name) if name.strip() else _DEFAULT_CODEC


def _check_segment_name(name: str, index: int) -> None:
    if name == "MSH":
        raise Hl7ParseError(
            f"second segment MSH en position {index} : plusieurs messages à la suite "
            "(à séparer avant l'analyse)",
            code=100,
            segment="MSH",
            segment_index=index,
        )
    if not _SEGMENT_NAME.fullmatch(name):
        # The "name" may be anything (a stray line of a field's text): never quote it.
        raise Hl7ParseError(
            f"segment en position {index} : nom de segment invalide "
            "(attendu : trois caractères, une majuscule puis majuscules ou chiffres)",
            code=100,
            segment_index=index,
        )


def _check_header(msh: Segment) -> None:
    count = msh.field_count
    for field in _REQUIRED_MSH_FIELDS:
        if field <= count and _first_value(msh.raw(field), msh._encoding).strip():
            continue
        if field > count:
            reason = f"champ obligatoire absent (le segment MSH n'a que {count} champs)"
        else:
            reason = "champ obligatoire vide"
        raise Hl7ParseError(
            reason, code=101, segment="MSH", segment_index=1, field=field
        )


def _first_value(raw: str, encoding: Encoding) -> str:
    """The first subcomponent of the first component of the first repetition, unescaped."""
    value = (
        raw.split(encoding.repetition, 1)[0]
        .split(encoding.component, 1)[0]
        .split(encoding.subcomponent, 1)[0]
    )
    return unescape(value, encoding) if encoding.escape in value else value


def _check_position(position: int) -> None:
    if position < 1:
        raise ValueError(
            "les positions HL7 (champ, répétition, composant) commencent à 1"
        )
