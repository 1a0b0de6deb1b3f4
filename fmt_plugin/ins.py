"""Check the structure and control key of a matricule INS (the NIR or NIA and its two-digit key).

The key is 97 − (the first 13 characters as an integer, mod 97). Corsican matricules carry the
department `2A` or `2B` at positions 6–7; for the key they count as `19` and `18`. Messages
never repeat the matricule: it identifies a person and must not reach logs.
"""

from __future__ import annotations

import re

from fmt_plugin.errors import FmtError

INS_LENGTH = 15

# 1/2 give the sex; 3/4 and 7/8 mark provisional numbers (persons being registered, NIA).
_FIRST_CHARACTERS = frozenset("123478")
_CORSICA_DEPARTMENTS = {"2A": "19", "2B": "18"}
_SHAPE = re.compile(r"[0-9]{5}(?:[0-9]{2}|2A|2B)[0-9]{8}")


class InvalidIns(FmtError):
    """A matricule INS failed its check; `reason` says why, without the matricule itself."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"matricule INS invalide : {reason}")


def check_ins(value: str) -> str:
    """The matricule with spaces removed and `2a`/`2b` upper-cased, or raise `InvalidIns`."""
    ins = value.replace(" ", "").strip().upper()
    if len(ins) != INS_LENGTH:
        raise InvalidIns(f"{len(ins)} caractères au lieu de {INS_LENGTH}")
    if not _SHAPE.fullmatch(ins):
        raise InvalidIns(
            "attendu 15 chiffres (département 2A ou 2B admis en positions 6 et 7)"
        )
    if ins[0] not in _FIRST_CHARACTERS:
        raise InvalidIns("le premier chiffre doit être 1, 2, 3, 4, 7 ou 8")
    if int(ins[13:]) != _control_key(ins[:13]):
        raise InvalidIns("la clé de contrôle ne correspond pas")
    return ins


def is_valid_ins(value: str) -> bool:
    """True when `check_ins` accepts `value`."""
    try:
        check_ins(value)
    except InvalidIns:
        return False
    return True


def _control_key(number: str) -> int:
    """The key of the 13-character NIR `number`, its Corsican department made numeric."""
    department = number[5:7]
    digits = number[:5] + _CORSICA_DEPARTMENTS.get(department, department) + number[7:]
    return 97 - int(digits) % 97
