"""The lists' read model on a real store, and the pure search, filter, sort and paging."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from fmt_plugin.evaluation import evaluate_practice, select_rule_pack
from fmt_plugin.installation import Installation, open_installation
from fmt_plugin.model import Patient
from fmt_plugin.roster import collect_roster
from fmt_plugin.rules.rates import compute_rates
from fmt_plugin.status_changes import KnownStatus
from fmt_plugin.status_tracking import track_status_changes
from fmt_plugin.web.list_query import (
    PAGE_SIZE,
    ListParams,
    list_page,
    sort_rows,
)
from fmt_plugin.web.listing import ListedPatient, PracticeListing

AS_OF = date(2026, 3, 15)  # the public scenario's date
TODAY = date(2026, 11, 30)


@pytest.fixture
def evaluated(installation: Path):
    """The public scenario's installation, roster synced, statuses remembered at AS_OF."""
    with open_installation(installation) as opened:
        roster = collect_roster(opened.pm, AS_OF)
        opened.store.sync_roster(roster.patients, actor="test")
        pack = select_rule_pack(opened.config, opened.pm)
        practice = evaluate_practice(opened.store, opened.pm, pack, AS_OF)
        track_status_changes(opened.store, opened.pm, practice)
        yield opened, practice


def refreshed(installation: Installation) -> PracticeListing:
    listing = PracticeListing()
    listing.refresh(installation.store)
    return listing


def test_a_refresh_reads_only_the_rows_written_since_the_last_one(evaluated):
    """After a refresh, only rows replaced later are read again (others are not decrypted)."""
    installation, _ = evaluated
    listing = refreshed(installation)
    before = listing.revision
    assert listing.statuses("Q06")["suivi_hba1c"].status == "a_verifier"
    # A row spoiled in place keeps its revision: re-reading it would fail to decrypt.
    with closing(sqlite3.connect(installation.config.store.path)) as conn, conn:
        conn.execute(
            "UPDATE indicator_statuses SET payload = x'00' WHERE patient_id = 'Q05'"
        )
    done = KnownStatus("fait", date(2026, 9, 1), last_act=AS_OF, last_code="4548-4")
    installation.store.statuses.replace(
        {"Q06": {"suivi_hba1c": done}}, evaluated_on=AS_OF
    )
    listing.refresh(installation.store)
    assert listing.revision > before
    assert listing.statuses("Q06") == {"suivi_hba1c": done}
    assert listing.statuses("Q06")["suivi_hba1c"].last_code == "4548-4"
    assert listing.statuses("Q05")  # the copy read before, kept


def test_a_refresh_picks_up_a_roster_change(evaluated):
    """A patient added to the roster appears; one who left disappears from the lists."""
    installation, _ = evaluated
    listing = refreshed(installation)
    patients = list(installation.store.iter_patients())
    newcomer = Patient("Q99", "test", nom="DUPONT", prenom="Marie", ins=None)
    kept = [p for p in patients if p.patient_id != "Q06"] + [newcomer]
    installation.store.sync_roster(kept, actor="test")
    listing.refresh(installation.store)
    assert listing.patient("Q99") is not None
    assert listing.patient("Q06") is None
    assert "Q06" not in {p.patient_id for p, _ in listing.concerned("suivi_hba1c")}
    assert len(listing) == len(patients)


def test_the_rates_from_remembered_statuses_equal_those_of_the_evaluation(evaluated):
    """`rates(pack)` counts what `compute_rates` counts over the evaluation itself."""
    installation, practice = evaluated
    listing = refreshed(installation)
    assert listing.rates(practice.pack) == compute_rates(
        practice.pack, practice.evaluations
    )


def test_the_search_matches_name_starts_accents_and_case_ignored(evaluated):
    """ "dup mar" finds Dupont Marie-Hélène; "HELENE" and "dupônt" too; "mar dup" as well."""
    installation, _ = evaluated
    patients = list(installation.store.iter_patients())
    extra = [
        Patient("Q90", "test", nom="DUPONT", prenom="Marie-Hélène"),
        Patient("Q91", "test", nom="DUPUIS", prenom="Jean"),
        Patient("Q92", "test", nom="MARTIN", prenom="Dupont"),
    ]
    installation.store.sync_roster(patients + extra, actor="test")
    listing = refreshed(installation)

    def ids(text: str) -> list[str]:
        return [p.patient_id for p in listing.search(text)]

    assert ids("dup mar") == ["Q90", "Q92"]
    assert ids("helene") == ["Q90"]
    assert ids("dupônt") == ["Q90", "Q92"]
    assert ids("DUPU") == ["Q91"]
    assert ids("upont") == []
    assert ids("  ") == []


# --- the pure page function -----------------------------------------------------------------


def patient(
    patient_id: str, nom: str, prenom: str, born: date | None, ins: str | None = None
) -> ListedPatient:
    return ListedPatient.of(
        Patient(patient_id, "test", nom=nom, prenom=prenom, birth_date=born, ins=ins)
    )


ROWS = [
    (
        patient("A", "Émery", "Zoé", date(1950, 1, 1), "250019912345678"),
        KnownStatus("a_verifier", date(2026, 1, 1)),
    ),
    (
        patient("B", "DUPONT", "Marie", None),
        KnownStatus("fait", date(2027, 6, 1), last_act=date(2026, 6, 1)),
    ),
    (
        patient("C", "dupont", "Alain", date(1980, 5, 5), "180059912345678"),
        KnownStatus("a_venir", None),
    ),
    (
        patient("D", "Zola", "Émile", date(2000, 2, 2)),
        KnownStatus("a_verifier", date(2025, 1, 1), catch_up=True),
    ),
    (
        patient("E", "Martin", "Léa", date(1950, 1, 1)),
        KnownStatus("exclu", None, last_act=date(2025, 3, 1)),
    ),
]


def order(key: str, ordre: str = "asc", statut: str | None = None) -> list[str]:
    params = ListParams.parse(
        {"tri": key, "ordre": ordre, **({"statut": statut} if statut else {})}
    )
    shown = list_page(ROWS, params, today=TODAY)
    return [row.patient.patient_id for row in shown.rows]


def test_names_sort_without_accents_nor_case_then_by_first_name():
    """Nom: `dupont Alain` before `DUPONT Marie`, `Émery` among the E; prénom sorts too."""
    assert order("nom") == ["C", "B", "A", "E", "D"]
    assert order("nom", "desc") == ["D", "E", "A", "B", "C"]
    assert order("prenom") == ["C", "D", "E", "B", "A"]


def test_rows_without_a_value_go_last_in_both_orders():
    """No birth date, no due date, no act: last, ascending or descending."""
    assert order("age") == ["D", "C", "A", "E", "B"]
    assert order("age", "desc") == ["A", "E", "C", "D", "B"]
    assert order("echeance") == ["D", "A", "B", "C", "E"]
    assert order("echeance", "desc") == ["B", "A", "D", "C", "E"]
    assert order("dernier_acte", "desc") == ["B", "E", "C", "A", "D"]
    assert order("nir") == ["C", "A", "B", "E", "D"]


def test_the_status_sort_puts_what_to_check_first_catch_ups_after():
    """Statut: à vérifier (rattrapage last among them), à venir, fait, exclu."""
    assert order("statut") == ["A", "D", "C", "B", "E"]


def test_the_status_filter_keeps_the_counts_of_every_status():
    """Filtered on à vérifier: two rows, and the counts still say what the others hold."""
    params = ListParams.parse({"statut": "a_verifier"})
    shown = list_page(ROWS, params, today=TODAY)
    assert [row.patient.patient_id for row in shown.rows] == ["A", "D"]
    assert shown.total == 2
    assert shown.counts == {"a_verifier": 2, "a_venir": 1, "fait": 1, "exclu": 1}
    assert shown.searched == 5


def test_the_search_narrows_before_the_filter_counts():
    """ "dup" keeps the two Dupont; the counts are those of the search's rows."""
    shown = list_page(ROWS, ListParams(), today=TODAY, search="dup")
    assert [row.patient.patient_id for row in shown.rows] == ["C", "B"]
    assert shown.counts == {"a_verifier": 0, "a_venir": 1, "fait": 1, "exclu": 0}


def test_ages_are_told_on_the_day_given():
    """The age column is computed on `today`, None without a birth date."""
    shown = list_page(ROWS, ListParams(), today=TODAY)
    ages = {row.patient.patient_id: row.age for row in shown.rows}
    assert ages == {"A": 76, "B": None, "C": 46, "D": 26, "E": 76}


def many(count: int) -> list[tuple[ListedPatient, KnownStatus]]:
    return [
        (
            patient(f"P{i:05d}", f"NOM{i:05d}", "X", date(1950, 1, 1)),
            KnownStatus("fait" if i % 3 else "a_verifier", None),
        )
        for i in range(count)
    ]


def test_pages_hold_fifty_rows_and_a_page_past_the_end_shows_the_last():
    """120 rows: pages of 50, 50 and 20; page 9 shows page 3; ranks are told."""
    rows = many(120)
    first = list_page(rows, ListParams(), today=TODAY)
    assert (len(first.rows), first.pages, first.total) == (PAGE_SIZE, 3, 120)
    assert (first.first, first.last) == (1, 50)
    second = list_page(rows, ListParams(page=2), today=TODAY)
    assert second.rows[0].patient.patient_id == "P00050"
    last = list_page(rows, ListParams.parse({"page": "9"}), today=TODAY)
    assert (last.params.page, len(last.rows), last.first, last.last) == (
        3,
        20,
        101,
        120,
    )
    empty = list_page([], ListParams(page=4), today=TODAY)
    assert (empty.params.page, empty.pages, empty.first, empty.last) == (1, 1, 0, 0)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ListParams()),
        ({"statut": "tous", "tri": "x", "ordre": "up", "page": "abc"}, ListParams()),
        ({"page": "-3"}, ListParams()),
        (
            {"statut": "exclu", "tri": "echeance", "ordre": "desc", "page": "2"},
            ListParams("exclu", "echeance", "desc", 2),
        ),
    ],
)
def test_unknown_parameters_fall_back_to_the_defaults(query, expected):
    """A hand-edited URL never fails: unknown values are ignored, the page clamped."""
    assert ListParams.parse(query) == expected


def test_links_keep_the_other_parameters_and_a_header_reverses_its_own_order():
    """`query` drops defaults; the current sort's header asks for the other order."""
    params = ListParams("a_verifier", "age", "asc", 3)
    assert params.query(page=1) == "?statut=a_verifier&tri=age"
    assert params.sorted_by("age") == "?statut=a_verifier&tri=age&ordre=desc"
    assert params.sorted_by("nom") == "?statut=a_verifier"
    assert ListParams().query() == ""
    assert replace(params, statut=None).query(page=2) == "?tri=age&page=2"


def test_sorting_twenty_thousand_rows_keeps_every_row_once():
    """A large list is sorted whole: nothing lost, nothing doubled, names in order."""
    rows = many(20_000)
    ordered = sort_rows(list(reversed(rows)), "nom", "asc")
    assert [p.patient_id for p, _ in ordered] == [p.patient_id for p, _ in rows]
