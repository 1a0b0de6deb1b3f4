"""The dashboard's decision form checked without a browser, and one patient's statuses read alone."""

from __future__ import annotations

from datetime import date

import pytest

from fmt_plugin.accounts.roles import Role
from fmt_plugin.errors import UsageError
from fmt_plugin.rules import OverrideKind
from fmt_plugin.rules.pack import default_pack_resource, load_pack
from fmt_plugin.status_changes import KnownStatus
from fmt_plugin.storage import Store
from fmt_plugin.web.decision_form import (
    DecisionForbidden,
    kind_choices,
    parse_decision,
)

TODAY = date(2026, 11, 30)
PACK = load_pack(default_pack_resource())


def parsed(role: Role = Role.MEDECIN, **fields: str):
    form = {"indicateur": "dep_sein", "type": "refus", "motif": "ne souhaite pas"}
    return parse_decision({**form, **fields}, pack=PACK, role=role, recorded_on=TODAY)


def refusal_of(**fields: str) -> str:
    with pytest.raises(UsageError) as refused:
        parsed(**fields)
    return str(refused.value)


def test_a_refusal_with_its_reason_becomes_the_override_to_record():
    """Kind, indicator and the reason with its blanks collapsed; the author and the day given."""
    override = parsed(motif="  ne souhaite   pas ").override("P1", "docteur", TODAY)
    assert override.kind is OverrideKind.REFUS
    assert (override.patient_id, override.indicator) == ("P1", "dep_sein")
    assert (override.author, override.recorded_on) == ("docteur", TODAY)
    assert override.reason == "ne souhaite pas"
    assert override.date is None
    assert override.expires is None


def test_a_postponement_takes_its_date_and_an_optional_expiry():
    """`report` with `date` (ISO, as a date input sends it) and `expire`."""
    decision = parsed(type="report", date="2027-02-01", expire="2027-06-30")
    assert decision.when == date(2027, 2, 1)
    assert decision.expires == date(2027, 6, 30)


def test_a_missing_reason_is_refused_in_french():
    """A blank reason says to give one."""
    assert "motif vide" in refusal_of(motif="   ")


def test_a_malformed_date_is_refused_naming_the_field():
    """`2026-13-45` says which field and the forms expected."""
    message = refusal_of(type="report", date="2026-13-45")
    assert message.startswith("Date : date invalide « 2026-13-45 »")
    assert "AAAA-MM-JJ ou JJ/MM/AAAA" in message


def test_done_elsewhere_without_its_date_is_refused():
    """`fait_ailleurs` needs the act's date, as `fmt-plugin override` does."""
    assert refusal_of(type="fait_ailleurs").startswith("Date manquante")


def test_an_act_done_elsewhere_after_today_is_refused():
    """An act cannot be declared before it is done."""
    assert "postérieur à sa déclaration" in refusal_of(
        type="fait_ailleurs", date="2026-12-01"
    )


def test_an_expiry_before_the_decision_is_refused_naming_the_form_field():
    """The message names « Valable jusqu'au », not the CLI's --expires."""
    message = refusal_of(expire="2026-01-01")
    assert message.startswith("« Valable jusqu'au » 01/01/2026")
    assert "--expires" not in message


def test_an_unknown_indicator_is_refused():
    """An id the pack does not have is named back."""
    assert refusal_of(indicateur="dep_inconnu").startswith(
        "indicateur « dep_inconnu » inconnu"
    )


def test_an_unknown_kind_is_refused():
    """Only the four kinds of decision exist."""
    assert "type de décision inconnu" in refusal_of(type="oubli")


def test_an_assistant_may_not_record_a_medical_exclusion():
    """The role is checked before anything else, even a valid form."""
    with pytest.raises(DecisionForbidden):
        parsed(Role.ASSISTANT, type="exclusion")
    assert parsed(Role.ASSISTANT).kind is OverrideKind.REFUS


def test_the_form_offers_each_role_only_what_it_may_record():
    """The GP sees the four kinds; the assistant the three that are not medical."""
    assert [value for value, _ in kind_choices(Role.MEDECIN)] == [
        "exclusion",
        "refus",
        "report",
        "fait_ailleurs",
    ]
    assistant = dict(kind_choices(Role.ASSISTANT))
    assert "exclusion" not in assistant
    assert assistant["refus"] == "Refus du patient"


def test_statuses_of_some_patients_reads_only_theirs(store_path, keyring):
    """`statuses.of` gives the rows asked for; unknown ids are simply absent."""
    with Store.create(store_path, keyring, actor="test") as store:
        known = {"dep_sein": KnownStatus("fait", date(2027, 8, 1))}
        store.statuses.replace(
            {"P1": known, "P2": known, "P3": known}, evaluated_on=TODAY
        )
        assert set(store.statuses.of(["P1", "P3", "P9"])) == {"P1", "P3"}
        assert store.statuses.of(["P2"])["P2"]["dep_sein"].due == date(2027, 8, 1)
        assert store.statuses.of([]) == {}
