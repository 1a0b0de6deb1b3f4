"""IndicatorStatuses on both backends: each patient's statuses, encrypted, with revisions."""

from __future__ import annotations

import json
from datetime import date

import pytest

from fmt_plugin.errors import DecryptionError
from fmt_plugin.status_changes import KnownStatus
from fmt_plugin.storage.crypto import FieldCipher
from fmt_plugin.storage.statuses import FIELD, TABLE, IndicatorStatuses, StatusCoverage

MONDAY = date(2026, 3, 2)
TUESDAY = date(2026, 3, 3)
DUE = date(2026, 9, 30)
DONE = KnownStatus("fait", DUE, last_act=date(2025, 10, 1), last_code="QEQK001")
LATE = KnownStatus("a_verifier", None, hors_fmt=True, catch_up=True)
ADD_PATIENT = "INSERT INTO patients (patient_id, identity, active) VALUES (?, ?, ?)"


@pytest.fixture
def cipher(keyring) -> FieldCipher:
    return FieldCipher(keyring)


@pytest.fixture
def statuses(backend, cipher) -> IndicatorStatuses:
    return IndicatorStatuses(backend.conn, cipher, backend.write)


def details(known: KnownStatus) -> tuple[object, ...]:
    """Every field, those KnownStatus's equality ignores included."""
    return (
        known.status,
        known.due,
        known.hors_fmt,
        known.catch_up,
        known.last_act,
        known.last_code,
    )


def revisions(backend) -> dict[str, int]:
    rows = backend.conn.execute("SELECT patient_id, revision FROM indicator_statuses")
    return {patient_id: revision for patient_id, revision in rows}


# --- written and read -----------------------------------------------------------------


def test_replaced_statuses_are_read_back_with_every_detail(statuses):
    """Status, due date, hors FMT, catch-up, last act and its code survive the round trip."""
    statuses.replace({"P1": {"dep_sein": DONE, "vacc_ror": LATE}}, evaluated_on=MONDAY)
    read = statuses.all()["P1"]
    assert {k: details(v) for k, v in read.items()} == {
        "dep_sein": details(DONE),
        "vacc_ror": details(LATE),
    }


def test_a_patient_evaluated_with_no_indicator_is_remembered_empty(statuses):
    """An empty evaluation is a row too: the patient counts as evaluated."""
    statuses.replace({"P1": {}}, evaluated_on=MONDAY)
    assert statuses.all() == {"P1": {}}
    assert statuses.evaluated_on() == {"P1": MONDAY}


def test_replacing_a_patient_replaces_all_its_statuses(statuses):
    """The new statuses stand alone: an indicator no longer given is gone."""
    statuses.replace({"P1": {"dep_sein": DONE, "vacc_ror": LATE}}, evaluated_on=MONDAY)
    statuses.replace({"P1": {"vacc_ror": DONE}}, evaluated_on=TUESDAY)
    assert statuses.all() == {"P1": {"vacc_ror": DONE}}
    assert statuses.evaluated_on() == {"P1": TUESDAY}


def test_replacing_some_patients_leaves_the_others_as_they_are(statuses):
    """Only the patients given are written."""
    statuses.replace({"P1": {"x": DONE}, "P2": {"x": LATE}}, evaluated_on=MONDAY)
    statuses.replace({"P2": {"x": DONE}}, evaluated_on=TUESDAY)
    assert statuses.all() == {"P1": {"x": DONE}, "P2": {"x": DONE}}
    assert statuses.evaluated_on() == {"P1": MONDAY, "P2": TUESDAY}


def test_of_reads_the_patients_asked_for_and_ignores_unknown_ids(statuses):
    """`of(ids)` gives those rows only; an id never evaluated is absent."""
    statuses.replace({"P1": {"x": DONE}, "P2": {"x": LATE}}, evaluated_on=MONDAY)
    assert statuses.of(["P2", "nobody", "P2"]) == {"P2": {"x": LATE}}
    assert statuses.of([]) == {}


def test_of_takes_more_ids_than_a_statement_has_parameters(statuses):
    """Thousands of ids go in as one parameter (SQLite allowed 999 before 3.32)."""
    statuses.replace({"P1": {"x": DONE}}, evaluated_on=MONDAY)
    many = [f"N{i}" for i in range(5000)] + ["P1"]
    assert statuses.of(many) == {"P1": {"x": DONE}}


def test_of_decrypts_only_the_rows_asked_for(statuses, backend):
    """Another patient's unreadable row does not stop reading this one's."""
    statuses.replace({"P1": {"x": DONE}, "P2": {"x": LATE}}, evaluated_on=MONDAY)
    with backend.write():
        backend.conn.execute(
            "UPDATE indicator_statuses SET payload = ? WHERE patient_id = ?",
            (b"\x01garbage", "P2"),
        )
    assert statuses.of(["P1"]) == {"P1": {"x": DONE}}
    with pytest.raises(DecryptionError):
        statuses.all()


# --- encryption -----------------------------------------------------------------------


def test_the_stored_payload_is_ciphertext_not_the_statuses(statuses, backend):
    """Nothing of the statuses is readable in the row itself."""
    statuses.replace({"P1": {"dep_sein": DONE}}, evaluated_on=MONDAY)
    (payload,) = backend.conn.execute(
        "SELECT payload FROM indicator_statuses"
    ).fetchone()
    assert type(payload) is bytes
    assert b"dep_sein" not in payload
    assert b"fait" not in payload


def test_a_payload_moved_to_another_patients_row_does_not_decrypt(statuses, backend):
    """A payload is bound to its patient: copied onto another row it is refused."""
    statuses.replace({"P1": {"x": DONE}, "P2": {"x": LATE}}, evaluated_on=MONDAY)
    with backend.write():
        backend.conn.execute(
            "UPDATE indicator_statuses SET payload ="
            " (SELECT payload FROM indicator_statuses WHERE patient_id = ?)"
            " WHERE patient_id = ?",
            ("P1", "P2"),
        )
    with pytest.raises(DecryptionError):
        statuses.of(["P2"])


def test_a_row_written_before_the_details_were_kept_still_reads(
    statuses, backend, cipher
):
    """A two-field payload (status, due) reads with the details at their defaults."""
    old = json.dumps({"x": ["fait", DUE.isoformat()]}).encode()
    payload = cipher.encrypt(old, table=TABLE, record_id="P1", field=FIELD)
    with backend.write():
        backend.conn.execute(
            "INSERT INTO indicator_statuses (patient_id, evaluated_on, payload)"
            " VALUES (?, ?, ?)",
            ("P1", MONDAY.isoformat(), payload),
        )
    assert details(statuses.all()["P1"]["x"]) == ("fait", DUE, False, False, None, None)


# --- revisions ------------------------------------------------------------------------


def test_written_since_zero_gives_every_row_and_the_newest_revision(statuses, backend):
    """A first read gets the practice and the revision to ask from next time."""
    statuses.replace({"P1": {"x": DONE}, "P2": {"x": LATE}}, evaluated_on=MONDAY)
    latest, rows = statuses.written_since(0)
    assert rows == {"P1": {"x": DONE}, "P2": {"x": LATE}}
    assert latest == max(revisions(backend).values())


def test_written_since_gives_only_the_rows_replaced_after_it(statuses):
    """A reader holding a revision re-reads just what changed since."""
    statuses.replace({"P1": {"x": DONE}, "P2": {"x": LATE}}, evaluated_on=MONDAY)
    seen, _ = statuses.written_since(0)
    statuses.replace({"P1": {"x": LATE}}, evaluated_on=TUESDAY)
    latest, rows = statuses.written_since(seen)
    assert rows == {"P1": {"x": LATE}}
    assert latest > seen


def test_written_since_the_newest_revision_gives_nothing_and_keeps_it(statuses):
    """Nothing new: no rows, and the revision asked for comes back."""
    statuses.replace({"P1": {"x": DONE}}, evaluated_on=MONDAY)
    seen, _ = statuses.written_since(0)
    assert statuses.written_since(seen) == (seen, {})


def test_each_patient_of_one_replacement_gets_its_own_revision(statuses, backend):
    """Several patients written together have distinct revisions."""
    statuses.replace({f"P{i}": {"x": DONE} for i in range(5)}, evaluated_on=MONDAY)
    assert len(set(revisions(backend).values())) == 5


def test_replacing_the_newest_row_again_and_again_raises_its_revision(
    statuses, backend
):
    """The newest row replaced gets a higher number each time, never its old one."""
    statuses.replace({"P1": {"x": DONE}, "P2": {"x": DONE}}, evaluated_on=MONDAY)
    seen = [revisions(backend)["P2"]]
    for _ in range(3):
        statuses.replace({"P2": {"x": LATE}}, evaluated_on=TUESDAY)
        seen.append(revisions(backend)["P2"])
    assert seen == sorted(set(seen))
    assert statuses.written_since(seen[-2]) == (seen[-1], {"P2": {"x": LATE}})


def test_a_revision_is_never_handed_out_twice_even_after_a_delete(statuses, backend):
    """After the newest row is deleted, the next write still gets a number never used."""
    statuses.replace({"P1": {"x": DONE}}, evaluated_on=MONDAY)
    statuses.replace({"P2": {"x": DONE}}, evaluated_on=MONDAY)
    statuses.replace({"P2": {"x": LATE}}, evaluated_on=MONDAY)
    used = max(revisions(backend).values())
    with backend.write():
        backend.conn.execute(
            "DELETE FROM indicator_statuses WHERE patient_id = ?", ("P2",)
        )
    statuses.replace({"P3": {"x": DONE}}, evaluated_on=MONDAY)
    assert revisions(backend)["P3"] > used


# --- coverage -------------------------------------------------------------------------


def test_coverage_counts_the_active_patients_and_their_days(statuses, backend):
    """Inactive patients and rows without a patient are left out of the count."""
    with backend.write():
        backend.conn.executemany(
            ADD_PATIENT, [("P1", b"i", 1), ("P2", b"i", 1), ("P3", b"i", 0)]
        )
    statuses.replace({"P1": {}, "P3": {}, "P9": {}}, evaluated_on=MONDAY)
    statuses.replace({"P2": {}}, evaluated_on=TUESDAY)
    assert statuses.coverage() == StatusCoverage(2, MONDAY, TUESDAY)


def test_coverage_of_a_store_never_evaluated_is_empty(statuses):
    """No row: no patient, no day."""
    assert statuses.coverage() == StatusCoverage(0, None, None)
