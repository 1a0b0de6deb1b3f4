"""Parse HL7 v2 with hl7apy into the same `Message` as `er7`: the reference backend and oracle.

Selectable at run time instead of the fast parser (about a thousand times slower), and the
oracle `tests/test_hl7_differential.py` compares `er7` with, value by value.

What hl7apy does and what is shared with `er7`:

- Shared (`er7.build_message`): decoding (MSH-18, BOM), the split into segment lines, MSH-1 and
  MSH-2 (the encoding characters), segment-name checks and the MSH-9/10/12 checks.
- hl7apy (`hl7apy.parser.parse_fields`): the split of every segment into fields, repetitions,
  components and subcomponents, MSH-3 onwards included.
- Neither: unescaping. hl7apy 1.3.5 has no unescape function (it only escapes, when writing),
  so values are unescaped by `er7.unescape`, whose agreement with hl7apy's escaping is tested.

Why not `hl7apy.parser.parse_message(text, find_groups=False, validation_level=TOLERANT)`: on
the third-party corpus it refuses 28 of the 380 messages `er7` reads — 23 whose MSH-2 has a
fifth character (the v2.7 truncation character) below v2.7, 3 holding a segment its tables lack
for the declared version (PRT, SPM), 2 declaring a version it lacks (1.0, 2.6.1). And it types
leaves from its tables, which rewrites what was received (an SI `01` becomes the int 1, a DTM a
`datetime`), drops empty components inside typed fields, and loses the position of fields its
tables do not know (a segment longer than its version's definition).

So each segment's fields are parsed under a Z-segment name: hl7apy then keeps every field's
position in its name and every component and subcomponent as the string received, with no HL7
version table in the way.

One difference stays, inherent to hl7apy: it skips a field made only of blanks, which then
reads as empty here where `er7` keeps the blanks.
"""

from __future__ import annotations

from typing import Any, Final

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.exceptions import HL7apyException
from hl7apy.parser import parse_fields

from fmt_plugin.errors import Hl7ParseError
from fmt_plugin.hl7.er7 import Encoding, FieldTree, Message, build_message

# Any Z name works: hl7apy gives Z segments untyped fields of unbounded count.
_POSITIONAL_PREFIX: Final = "ZZZ"


def parse_with_hl7apy(raw: bytes | str) -> Message:
    """Parse one ER7 message with hl7apy's tokenizer; `Hl7ParseError` when it cannot be read.

    Same contract and errors as `er7.parse_message`; an hl7apy failure becomes an
    `Hl7ParseError` at the segment being parsed.
    """
    return build_message(raw, _tokenize)


def _tokenize(
    name: str, index: int, line: str, encoding: Encoding
) -> tuple[list[str], dict[int, FieldTree]]:
    """Split one segment line with hl7apy: its fields as received, and their escaped trees."""
    separator = encoding.field
    trees: dict[int, FieldTree] = {}
    if name == "MSH":
        characters, found, rest = line[4:].partition(separator)
        fields = ["MSH", separator, characters]
        trees[1] = (((separator,),),)
        trees[2] = (((characters,),),)
        offset, has_fields = 2, bool(found)
    else:
        rest = line[4:]
        fields = [name]
        offset, has_fields = 0, len(line) > 3
    if not has_fields:
        return fields, trees
    # hl7apy leaves empty fields out, so their count comes from the separators.
    fields.extend([""] * (rest.count(separator) + 1))
    repetitions: dict[int, list[tuple[tuple[str, ...], ...]]] = {}
    for hl7apy_field in _hl7apy_fields(rest, encoding, name, index):
        position = _position(hl7apy_field, name, index) + offset
        if position >= len(fields):
            raise Hl7ParseError(
                "hl7apy a lu plus de champs que le segment n'en a",
                code=207,
                segment=name,
                segment_index=index,
            )
        repetitions.setdefault(position, []).append(
            tuple(
                tuple(_leaf(sub, name, index) for sub in component.children)
                for component in hl7apy_field.children
            )
        )
    for position, tree in repetitions.items():
        trees[position] = tuple(tree)
        fields[position] = _join(trees[position], encoding)
    return fields, trees


def hl7apy_separators(encoding: Encoding) -> dict[str, str]:
    """`encoding` as hl7apy's `encoding_chars` mapping (segments end with a carriage return)."""
    return {
        "FIELD": encoding.field,
        "COMPONENT": encoding.component,
        "REPETITION": encoding.repetition,
        "ESCAPE": encoding.escape,
        "SUBCOMPONENT": encoding.subcomponent,
        "SEGMENT": "\r",
        "GROUP": "\r",
    }


def _hl7apy_fields(
    text: str, encoding: Encoding, segment: str, index: int
) -> list[Any]:
    """hl7apy's fields of one segment's text (after its name), named `ZZZ_<position>`."""
    try:
        fields: list[Any] = parse_fields(
            text,
            name_prefix=_POSITIONAL_PREFIX,
            encoding_chars=hl7apy_separators(encoding),
            validation_level=VALIDATION_LEVEL.TOLERANT,
            force_varies=True,
        )
    except HL7apyException as exc:
        raise Hl7ParseError(
            f"hl7apy refuse le segment ({type(exc).__name__})",
            code=102,
            segment=segment,
            segment_index=index,
        ) from exc
    except Exception as exc:
        # Third-party code run on untrusted input: whatever else it raises is a defect of
        # hl7apy on this message, answered like any unreadable message (AR, 207) and never
        # a crash of the caller.
        raise Hl7ParseError(
            f"erreur interne d'hl7apy sur ce segment ({type(exc).__name__})",
            code=207,
            segment=segment,
            segment_index=index,
        ) from exc
    return fields


def _position(hl7apy_field: Any, segment: str, index: int) -> int:
    """The field's position, which hl7apy keeps in its name (`ZZZ_<n>`)."""
    prefix, _, number = str(hl7apy_field.name).rpartition("_")
    if prefix != _POSITIONAL_PREFIX or not (number.isascii() and number.isdigit()):
        raise Hl7ParseError(
            "hl7apy a rendu un champ sans position",
            code=207,
            segment=segment,
            segment_index=index,
        )
    return int(number)


def _leaf(subcomponent: Any, segment: str, index: int) -> str:
    """A subcomponent's text as received: hl7apy keeps "" as is, other text in an `ST`."""
    value = subcomponent.value
    text = getattr(value, "value", value)
    if text is None:
        return ""
    if not isinstance(text, str):
        raise Hl7ParseError(
            f"hl7apy a typé une valeur ({type(text).__name__}) au lieu de garder le texte reçu",
            code=207,
            segment=segment,
            segment_index=index,
        )
    return text


def _join(tree: FieldTree, encoding: Encoding) -> str:
    return encoding.repetition.join(
        encoding.component.join(
            encoding.subcomponent.join(component) for component in repetition
        )
        for repetition in tree
    )
