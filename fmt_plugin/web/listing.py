"""The dashboard's read model: every patient's identity and current statuses, in memory.

A list of 20,000 patients cannot decrypt 40,000 rows per page view, nor evaluate the
practice. The statuses are kept current in the store by the service (after each message,
and for everyone each night); `PracticeListing` keeps a decrypted copy on the dashboard's
thread and, before each page, re-reads only what was written since (`written_since`), and
the roster only when it changed. Pages then filter, sort and count in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Any, TypeVar

from fmt_plugin.accents import without_accents
from fmt_plugin.model import Patient
from fmt_plugin.remuneration.estimate import PatientSituation
from fmt_plugin.rules.pack import RulePack
from fmt_plugin.rules.rates import IndicatorRate, count_rates
from fmt_plugin.status_changes import KnownStatus, PatientStatuses
from fmt_plugin.storage.store import Store

T = TypeVar("T")


@dataclass(frozen=True)
class ListedPatient:
    """One active patient as the lists show them (health data: never logged)."""

    patient_id: str
    nom: str
    prenom: str
    birth_date: date | None
    ins: str | None
    #: Upper-case, accent-free "NOM PRENOM" for the search box.
    search_key: str
    #: Age, ALD and C2S as the forfait socle reads them (the remuneration page).
    situation: PatientSituation

    @classmethod
    def of(cls, patient: Patient) -> ListedPatient:
        return cls(
            patient.patient_id,
            patient.nom,
            patient.prenom,
            patient.birth_date,
            patient.ins,
            without_accents(f"{patient.nom} {patient.prenom}").upper(),
            PatientSituation.of(patient),
        )

    def age(self, on: date) -> int | None:
        """Age in whole years on `on` (None without a birth date)."""
        born = self.birth_date
        if born is None:
            return None
        return on.year - born.year - ((on.month, on.day) < (born.month, born.day))

    @cached_property
    def sort_name(self) -> tuple[str, str, str]:
        """(nom, prénom, id) as the lists sort them: accents and case ignored."""
        # Cached on the instance (a frozen dataclass still has a __dict__): a list of
        # 20,000 patients sorted by name must not strip accents on every page view.
        return (
            without_accents(self.nom).casefold(),
            without_accents(self.prenom).casefold(),
            self.patient_id,
        )

    def matches(self, words: list[str]) -> bool:
        """True when every word starts a word of the name (`dup mar` finds Dupont Marie)."""
        names = self.search_key.replace("-", " ").split()
        return all(any(name.startswith(word) for name in names) for word in words)


def search_words(text: str) -> list[str]:
    """What a search box holds, as `ListedPatient.matches` compares it."""
    return without_accents(text).upper().replace("-", " ").split()


class PracticeListing:
    """The active patients and their remembered statuses, refreshed from the store."""

    def __init__(self) -> None:
        self._patients: dict[str, ListedPatient] = {}
        self._statuses: dict[str, PatientStatuses] = {}
        self._revision = 0
        self._roster: int | None = None
        self._memo: dict[Hashable, Any] = {}
        # What the pages ask again and again, computed once per change of the store: the
        # rows of each indicator (in name order) and the rates of the last pack asked for.
        self._by_indicator: dict[str, list[tuple[ListedPatient, KnownStatus]]] = {}
        self._rates: tuple[RulePack, dict[str, IndicatorRate]] | None = None

    def refresh(self, store: Store) -> None:
        """Re-read what changed in the store since the last refresh (its thread only)."""
        roster = store.roster_revision()
        stale = False
        if roster != self._roster:
            self._patients = {
                patient.patient_id: ListedPatient.of(patient)
                for patient in store.iter_patients()
            }
            self._roster = roster
            stale = True
        self._revision, changed = store.statuses.written_since(self._revision)
        if changed:
            # A new dict, swapped in whole: a page reading on the event loop never sees
            # one being changed under it by this thread.
            self._statuses = {**self._statuses, **changed}
            stale = True
        if stale:
            # Swapped after the data: a page filling the old cache loses its work only.
            self._by_indicator = {}
            self._rates = None
            self._memo = {}

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """`compute()`, kept until the roster or a status changes (`key` names it).

        For what a page derives from the whole practice (the remuneration estimate at
        20,000 patients takes ~0.3 s) and that only a change of the store changes.
        """
        memo = self._memo
        if key not in memo:
            memo[key] = compute()
        value: T = memo[key]
        return value

    def __len__(self) -> int:
        return len(self._patients)

    @property
    def revision(self) -> int:
        """The newest status revision read from the store (0 before the first refresh)."""
        return self._revision

    def patients(self) -> Iterator[ListedPatient]:
        """Every active patient, in no particular order."""
        return iter(self._patients.values())

    def patient(self, patient_id: str) -> ListedPatient | None:
        """One active patient, or None."""
        return self._patients.get(patient_id)

    def statuses(self, patient_id: str) -> PatientStatuses:
        """The remembered statuses of a patient ({} when never evaluated)."""
        return self._statuses.get(patient_id, {})

    def concerned(self, indicator: str) -> Iterator[tuple[ListedPatient, KnownStatus]]:
        """The active patients `indicator` concerns, with their status for it, by name."""
        cache = self._by_indicator
        rows = cache.get(indicator)
        if rows is None:
            statuses = self._statuses
            rows = []
            for patient_id, patient in self._patients.items():
                known = statuses.get(patient_id, {}).get(indicator)
                if known is not None:
                    rows.append((patient, known))
            rows.sort(key=lambda row: row[0].sort_name)
            cache[indicator] = rows
        return iter(rows)

    def rates(self, pack: RulePack) -> dict[str, IndicatorRate]:
        """The taux d'atteinte of every indicator of `pack`, over the active patients."""
        cached = self._rates
        if cached is not None and cached[0] is pack:
            return cached[1]
        rates = count_rates(
            pack,
            (
                (indicator, known.status, known.hors_fmt, known.catch_up)
                for patient_id in self._patients
                for indicator, known in self._statuses.get(patient_id, {}).items()
            ),
        )
        self._rates = (pack, rates)
        return rates

    def search(self, text: str, limit: int = 20) -> list[ListedPatient]:
        """The patients whose name matches `text`, by name, at most `limit`."""
        words = search_words(text)
        if not words:
            return []
        found = [p for p in self._patients.values() if p.matches(words)]
        found.sort(key=lambda p: (p.search_key, p.patient_id))
        return found[:limit]
