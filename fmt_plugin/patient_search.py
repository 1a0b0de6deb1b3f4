"""Find patients from what the practice types: internal id, NIR or INS, birth date, or name.

The query is read the way a secretary would type it: `Q07`, `1 48 08 09 056 206 59` (as on the
carte Vitale, spaces allowed, Corsica `2A`/`2B`), the 13-character NIR without its key,
`08/08/1948` or `1948-08-08`, `dupont`, `Jean Dupont`, `HELENE DUP`. Matching is pure:
`find_patients` takes patients and returns those that match and how; `search_store` adds the
store's rules (an exact id first, retired patients only by id or NIR). Nothing here logs or
raises with the query's text: it may be a name, a NIR or a birth date.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from fmt_plugin.accents import without_accents
from fmt_plugin.errors import UsageError
from fmt_plugin.model import Patient
from fmt_plugin.storage.store import Store

NIR_LENGTH = 13
INS_LENGTH = 15
_NIR = re.compile(r"[0-9]{5}(?:[0-9]{2}|2A|2B)[0-9]{6}(?:[0-9]{2})?")
_FRENCH_DATE = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
#: What separates the words of a name: spaces, hyphens (Jean-Pierre), apostrophes (N'Diaye).
_NAME_SEPARATORS = re.compile(r"[\s\-'’]+")


class MatchKind(StrEnum):
    """How a query was read, hence how the patients were matched."""

    ID = "id"
    NIR = "nir"  # 13 characters: the first 13 of the stored INS
    INS = "ins"  # 15 characters: NIR and key
    BIRTH_DATE = "birth_date"
    NAME = "name"

    @property
    def identifies(self) -> bool:
        """True when a match names one person for sure (id, NIR, INS), not a look-alike."""
        return self in (MatchKind.ID, MatchKind.NIR, MatchKind.INS)


class PatientQueryError(UsageError):
    """The query cannot be read (empty, a date that does not exist); never quotes it."""


@dataclass(frozen=True)
class PatientQuery:
    """A query as read: its kind and the value matched (compact NIR, date, name words)."""

    text: str
    kind: MatchKind
    nir: str = ""
    birth_date: date | None = None
    words: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> PatientQuery:
        """Read `text` as a NIR or INS, else a birth date, else name words.

        An exact id is not recognised here (anything may be an id): `find_patients` tries
        it first. Raises PatientQueryError for an empty query or an impossible date.
        """
        stripped = text.strip()
        if not stripped:
            raise PatientQueryError("recherche vide : identifiant, nom, date ou NIR")
        compact = re.sub(r"\s+", "", stripped).upper()
        if _NIR.fullmatch(compact):
            kind = MatchKind.INS if len(compact) == INS_LENGTH else MatchKind.NIR
            return cls(stripped, kind, nir=compact)
        birth_date = _birth_date(stripped)
        if birth_date is not None:
            return cls(stripped, MatchKind.BIRTH_DATE, birth_date=birth_date)
        return cls(stripped, MatchKind.NAME, words=tuple(name_words(stripped)))

    def matches(self, patient: Patient) -> bool:
        """True when the patient fits the query read as `kind` (the id aside)."""
        if self.kind in (MatchKind.NIR, MatchKind.INS):
            stored = re.sub(r"\s+", "", patient.ins or "").upper()
            return bool(stored) and stored[: len(self.nir)] == self.nir
        if self.kind is MatchKind.BIRTH_DATE:
            return patient.birth_date == self.birth_date
        names = _searchable_names(patient)
        return all(any(n.startswith(w) for n in names) for w in self.words)


@dataclass(frozen=True)
class PatientMatches:
    """The patients a query found, how, and which of them left the roster.

    `patients` is sorted by name, first name, birth date and id; `retired` holds the ids of
    those no longer in the roster (found by id or NIR only).
    """

    kind: MatchKind
    patients: tuple[Patient, ...]
    retired: frozenset[str] = frozenset()

    def is_retired(self, patient: Patient) -> bool:
        """True when this patient left the practice's roster."""
        return patient.patient_id in self.retired


def find_patients(patients: Iterable[Patient], query: str) -> PatientMatches:
    """The patients matching `query`: one whose id is exactly the query wins alone.

    Otherwise the query is read as a NIR/INS, a birth date or name words (`PatientQuery`).
    Raises PatientQueryError when the query cannot be read.
    """
    parsed = PatientQuery.parse(query)
    found = []
    for patient in patients:
        if patient.patient_id == parsed.text:
            return PatientMatches(MatchKind.ID, (patient,))
        if parsed.matches(patient):
            found.append(patient)
    return PatientMatches(parsed.kind, tuple(sorted(found, key=_order)))


def search_store(store: Store, query: str) -> PatientMatches:
    """Find patients in the store: exact id (even retired), then active patients.

    A retired patient is found by exact id or NIR/INS only: a name or a birth date shows the
    current roster, not every person the practice ever followed. A 15-character INS is
    looked up by the store's blind index, so the roster is decrypted only for the other
    kinds.
    """
    active = set(store.patient_ids())
    exact = store.get_patient(query.strip())
    if exact is not None:
        return _with_retired(PatientMatches(MatchKind.ID, (exact,)), active)
    parsed = PatientQuery.parse(query)
    if parsed.kind is MatchKind.INS:
        ids = store.find_patient_ids_by_ins(parsed.nir, active_only=False)
        found = (store.get_patient(i) for i in ids)
        patients = tuple(sorted((p for p in found if p is not None), key=_order))
        return _with_retired(PatientMatches(MatchKind.INS, patients), active)
    matches = find_patients(store.iter_patients(), query)
    if not matches.patients and matches.kind.identifies:
        matches = find_patients(store.iter_patients(active_only=False), query)
    return _with_retired(matches, active)


def name_words(text: str) -> list[str]:
    """The words of a name, without accents, case-folded: `Hélène N'Diaye` → helene, n, diaye."""
    return [w for w in _NAME_SEPARATORS.split(without_accents(text).casefold()) if w]


def _searchable_names(patient: Patient) -> list[str]:
    """Each word of the nom and prénom, and each written in one piece (`ndiaye`, `legall`)."""
    words = []
    for name in (patient.nom, patient.prenom):
        parts = name_words(name)
        words += parts
        if len(parts) > 1:
            words.append("".join(parts))
    return words


def _birth_date(text: str) -> date | None:
    """The date `JJ/MM/AAAA` or `AAAA-MM-JJ` writes, None if it is neither form.

    Raises PatientQueryError for a date of that form that does not exist (31/02/1950).
    """
    french = _FRENCH_DATE.fullmatch(text)
    iso = _ISO_DATE.fullmatch(text)
    if french is not None:
        day, month, year = (int(part) for part in french.groups())
    elif iso is not None:
        year, month, day = (int(part) for part in iso.groups())
    else:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        raise PatientQueryError(
            "date de naissance impossible (attendu JJ/MM/AAAA ou AAAA-MM-JJ)"
        ) from None


def _order(patient: Patient) -> tuple[str, str, date, str]:
    return (
        " ".join(name_words(patient.nom)),
        " ".join(name_words(patient.prenom)),
        patient.birth_date or date.min,
        patient.patient_id,
    )


def _with_retired(matches: PatientMatches, active: set[str]) -> PatientMatches:
    retired = frozenset(
        p.patient_id for p in matches.patients if p.patient_id not in active
    )
    return PatientMatches(matches.kind, matches.patients, retired)
