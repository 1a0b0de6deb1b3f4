"""Finding a patient from what the practice types: id, NIR or INS, birth date, or name."""

from __future__ import annotations

from datetime import date

import pytest

from fmt_plugin.model import Patient
from fmt_plugin.patient_search import (
    MatchKind,
    PatientQuery,
    PatientQueryError,
    find_patients,
    name_words,
)


def patient(patient_id: str, nom: str, prenom: str, born: str, ins: str | None):
    return Patient(
        patient_id=patient_id,
        source="test",
        ins=ins,
        nom=nom,
        prenom=prenom,
        birth_date=date.fromisoformat(born),
    )


ROSTER = (
    patient("P01", "DUPONT", "JEAN", "1950-03-02", "150032A01234516"),
    patient("P02", "DUPONT", "MARIE", "1955-07-14", "255077512345670"),
    patient("P03", "LEFÈVRE", "Hélène", "1962-05-20", "262057512345683"),
    patient("P04", "DUPUIS", "Jean-Pierre", "1948-08-08", "148080905620659"),
    patient("P06", "N'DIAYE", "Awa", "1990-10-10", None),
    patient("DU", "ROUX", "Léa", "2001-01-01", None),
)


def ids(query: str) -> list[str]:
    return [p.patient_id for p in find_patients(ROSTER, query).patients]


def test_an_exact_internal_id_finds_that_patient():
    """`P03` finds P03, read as an id."""
    matches = find_patients(ROSTER, "P03")
    assert [p.patient_id for p in matches.patients] == ["P03"]
    assert matches.kind is MatchKind.ID


def test_an_exact_id_wins_over_names_that_start_with_it():
    """`DU` is the id of Léa Roux: she alone is found, not the DUPONT and DUPUIS."""
    assert ids("DU") == ["DU"]
    assert find_patients(ROSTER, "DU").kind is MatchKind.ID


def test_an_ins_with_the_carte_vitale_spaces_finds_its_patient():
    """`1 48 08 09 056 206 59`, as on the carte Vitale, finds P04."""
    assert ids("1 48 08 09 056 206 59") == ["P04"]
    assert find_patients(ROSTER, "1 48 08 09 056 206 59").kind is MatchKind.INS


def test_an_ins_without_spaces_finds_its_patient():
    """`148080905620659` finds P04."""
    assert ids("148080905620659") == ["P04"]


def test_a_13_character_nir_matches_the_start_of_the_ins():
    """The NIR without its key (`1 48 08 09 056 206`) finds P04, read as a NIR."""
    assert ids("1 48 08 09 056 206") == ["P04"]
    assert find_patients(ROSTER, "1480809056206").kind is MatchKind.NIR


def test_a_corsican_nir_is_found_whatever_the_case_of_2a():
    """`1 50 03 2a 012 345` finds P01, born in Corse-du-Sud."""
    assert ids("1 50 03 2a 012 345") == ["P01"]
    assert ids("150032A01234516") == ["P01"]


def test_a_nir_nobody_has_finds_nobody():
    """A well-formed NIR of no patient finds nobody; a patient without INS never matches."""
    matches = find_patients(ROSTER, "2 99 12 75 123 456")
    assert matches.patients == ()
    assert matches.kind is MatchKind.NIR


def test_a_french_birth_date_finds_the_patients_born_that_day():
    """`08/08/1948` finds P04."""
    assert ids("08/08/1948") == ["P04"]
    assert find_patients(ROSTER, "08/08/1948").kind is MatchKind.BIRTH_DATE


def test_an_iso_birth_date_finds_the_patients_born_that_day():
    """`1948-08-08` finds P04, and `2/3/1950` (no leading zeros) finds P01."""
    assert ids("1948-08-08") == ["P04"]
    assert ids("2/3/1950") == ["P01"]


def test_an_impossible_date_is_refused_without_repeating_it():
    """`31/02/1950` is a usage error that does not quote the date."""
    with pytest.raises(PatientQueryError) as error:
        find_patients(ROSTER, "31/02/1950")
    assert "31/02/1950" not in str(error.value)
    assert "JJ/MM/AAAA" in str(error.value)


def test_an_empty_query_is_refused():
    """Spaces only is a usage error."""
    with pytest.raises(PatientQueryError):
        find_patients(ROSTER, "   ")


def test_a_name_matches_without_accents_and_in_any_case():
    """`helene`, `HÉLÈNE` and `lefevre` all find Hélène LEFÈVRE."""
    assert ids("helene") == ["P03"]
    assert ids("HÉLÈNE") == ["P03"]
    assert ids("lefevre") == ["P03"]


def test_a_name_word_matches_the_start_of_the_nom_or_prenom():
    """`dup` finds both DUPONT and DUPUIS, sorted by name then first name."""
    assert ids("dup") == ["P01", "P02", "P04"]
    assert find_patients(ROSTER, "dup").kind is MatchKind.NAME


def test_two_words_match_nom_and_prenom_in_any_order():
    """`Jean Dupont` and `DUPONT jean` find P01 only; `HELENE LEF` finds P03."""
    assert ids("Jean Dupont") == ["P01"]
    assert ids("DUPONT jean") == ["P01"]
    assert ids("HELENE LEF") == ["P03"]


def test_every_word_must_match():
    """`jean martin` finds nobody: no Jean is called Martin."""
    assert ids("jean martin") == []


def test_a_compound_name_matches_each_of_its_parts():
    """`pierre` finds Jean-Pierre DUPUIS, `diaye` finds Awa N'DIAYE."""
    assert ids("pierre") == ["P04"]
    assert ids("diaye") == ["P06"]


def test_a_compound_name_matches_when_typed_in_one_piece():
    """`ndiaye` finds N'DIAYE and `jeanpierre` Jean-Pierre: nobody types the apostrophe."""
    assert ids("ndiaye") == ["P06"]
    assert ids("jeanpierre") == ["P04"]


def test_name_words_drop_accents_case_hyphens_and_apostrophes():
    """`Hélène N'Diaye-Léger` reads helene, n, diaye, leger."""
    assert name_words("Hélène N'Diaye-Léger") == ["helene", "n", "diaye", "leger"]


def test_a_query_reads_digits_of_the_wrong_length_as_a_name():
    """`12345` (an EHR number, perhaps) is neither NIR nor date: read as a name."""
    assert PatientQuery.parse("12345").kind is MatchKind.NAME
