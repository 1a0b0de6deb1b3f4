"""Tests of the matricule INS check (`fmt_plugin.ins`)."""

from __future__ import annotations

import pytest

from fmt_plugin.errors import FmtError
from fmt_plugin.ins import InvalidIns, check_ins, is_valid_ins

# The eight INS of shared/scenarios/public/roster.csv, copied so the tests stand alone.
PUBLIC_SCENARIO_INS = (
    "125120905620191",
    "114010905620265",
    "189050905620342",
    "297110905620483",
    "271020905620548",
    "148080905620659",
    "263030905620766",
    "180090905620857",
)
# Built by hand: department 2A counts as 19 and 2B as 18 in the key.
CORSICA_2A = "185052A12345633"
CORSICA_2B = "292052B04507857"


def with_key(first13: str) -> str:
    """`first13` followed by its control key (digits only)."""
    return first13 + f"{97 - int(first13) % 97:02d}"


@pytest.mark.parametrize("ins", PUBLIC_SCENARIO_INS)
def test_public_scenario_ins_are_valid(ins: str) -> None:
    """Every INS of the public scenario passes the check unchanged."""
    assert check_ins(ins) == ins


def test_ans_example_is_valid() -> None:
    """The ANS documentation's example matricule passes the check."""
    assert is_valid_ins("281037505610130")


@pytest.mark.parametrize("position", range(15))
def test_changed_digit_is_invalid(position: int) -> None:
    """Changing any one digit of a valid matricule makes it fail."""
    ins = PUBLIC_SCENARIO_INS[0]
    changed = str((int(ins[position]) + 1) % 10)
    assert not is_valid_ins(ins[:position] + changed + ins[position + 1 :])


def test_wrong_key_reason_says_key() -> None:
    """A wrong key is reported as a key mismatch."""
    with pytest.raises(InvalidIns, match="clé de contrôle"):
        check_ins("125120905620192")


@pytest.mark.parametrize("ins", ["12512090562019", "1251209056201911", ""])
def test_wrong_length_is_invalid(ins: str) -> None:
    """A matricule of other than 15 characters fails with its length as the reason."""
    with pytest.raises(InvalidIns, match="caractères au lieu de 15"):
        check_ins(ins)


def test_letters_outside_corsican_department_are_invalid() -> None:
    """Letters anywhere but a 2A/2B department make the matricule fail."""
    assert not is_valid_ins("1251209056201X1")
    assert not is_valid_ins("185052C12345633")


def test_first_digit_must_be_a_known_kind() -> None:
    """A first digit that no NIR or NIA uses fails even with a correct key."""
    with pytest.raises(InvalidIns, match="premier chiffre"):
        check_ins(with_key("5891234567890"))


def test_spaces_are_removed() -> None:
    """Spaces as printed on a carte Vitale are removed from the normalised value."""
    assert check_ins(" 1 25 12 09 056 201 91 ") == "125120905620191"


@pytest.mark.parametrize("ins", [CORSICA_2A, CORSICA_2B])
def test_corsican_departments_are_valid(ins: str) -> None:
    """A matricule with department 2A or 2B passes with the key computed on 19 or 18."""
    assert check_ins(ins) == ins


def test_corsican_department_is_upper_cased() -> None:
    """A lower-case `2a` department is accepted and normalised to `2A`."""
    assert check_ins(CORSICA_2A.lower()) == CORSICA_2A


def test_corsican_wrong_key_is_invalid() -> None:
    """A Corsican matricule with a wrong key fails."""
    assert not is_valid_ins(CORSICA_2A[:13] + "34")


def test_message_never_contains_the_value() -> None:
    """The error message names the reason, never the matricule."""
    with pytest.raises(InvalidIns) as info:
        check_ins("125120905620192")
    assert "125120905620192" not in str(info.value)
    assert "1251209056201" not in str(info.value)


def test_invalid_ins_is_an_fmt_error() -> None:
    """InvalidIns belongs to the project's exception hierarchy."""
    assert issubclass(InvalidIns, FmtError)
