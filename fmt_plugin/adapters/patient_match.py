"""Default patient matching: the INS through the store's blind index, then the practice's own id.

Follows the French CI-SIS rule: a message whose identity is unknown, ambiguous or inconsistent
is not matched (the caller quarantines it); guessing a patient is worse than asking a person.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fmt_plugin import __version__
from fmt_plugin.hooks import hookimpl
from fmt_plugin.ins import is_valid_ins
from fmt_plugin.model import AdapterInfo, PatientIdentifier

if TYPE_CHECKING:
    from fmt_plugin.storage import Store

#: Assigning-authority OIDs of the INS: production INS-NIR, then the ANS test and demo OIDs.
INS_AUTHORITY_OIDS = frozenset(
    {"1.2.250.1.213.1.4.8", "1.2.250.1.213.1.4.10", "1.2.250.1.213.1.4.11"}
)


def is_ins_identifier(identifier: PatientIdentifier) -> bool:
    """True when the identifier is an INS matricule under a national INS authority."""
    return identifier.kind == "INS" and _issued_by(identifier, INS_AUTHORITY_OIDS)


def is_practice_identifier(
    identifier: PatientIdentifier, authorities: frozenset[str]
) -> bool:
    """True when the identifier is a `PI` issued by one of the practice's authorities."""
    return identifier.kind == "PI" and _issued_by(identifier, authorities)


def _issued_by(identifier: PatientIdentifier, authorities: frozenset[str]) -> bool:
    """Whether any part of the assigning authority (name, OID) is one of `authorities`."""
    parts = set(identifier.authority.replace("&", "^").split("^"))
    return bool(parts & authorities)


@dataclass(frozen=True)
class _RosterIndex:
    """The roster's INS blind indexes and ids, as of one roster revision."""

    revision: int
    #: INS blind index -> the active patients holding it.
    by_ins: dict[bytes, list[str]]
    #: Every stored patient id, active or not.
    known: frozenset[str]

    @classmethod
    def read(cls, store: Store, revision: int) -> _RosterIndex:
        by_ins: dict[bytes, list[str]] = {}
        known = []
        for patient_id, ins_index, active in store.roster_keys():
            known.append(patient_id)
            if active and ins_index is not None:
                by_ins.setdefault(ins_index, []).append(patient_id)
        return cls(revision, by_ins, frozenset(known))


class StorePatientMatcher:
    """Matches against the patients synchronised into the store.

    The roster's blind indexes are kept in memory and read again whenever the roster's
    revision moves (a `sync`, from this process or another): a message costs a dictionary
    lookup, not a query and a decryption.
    """

    def __init__(self, store: Store, practice_authorities: Sequence[str] = ()) -> None:
        self._store = store
        self._authorities = frozenset(practice_authorities)
        self._index: _RosterIndex | None = None

    def _roster(self) -> _RosterIndex:
        revision = self._store.roster_revision()
        if self._index is None or self._index.revision != revision:
            self._index = _RosterIndex.read(self._store, revision)
        return self._index

    @hookimpl
    def fmt_adapter_info(self) -> AdapterInfo:
        """Name this built-in."""
        return AdapterInfo(
            name="patient_match",
            version=__version__,
            description="rapprochement par INS puis identifiant du cabinet",
        )

    @hookimpl(trylast=True)
    def fmt_match_patient(self, identifiers: Sequence[PatientIdentifier]) -> str | None:
        """One patient id when every usable identifier points to that same patient."""
        roster = self._roster()
        by_ins = {
            pid
            for ident in identifiers
            if is_ins_identifier(ident)
            for pid in roster.by_ins.get(self._store.ins_index(ident.value) or b"", [])
        }
        by_local = {
            ident.value
            for ident in identifiers
            if is_practice_identifier(ident, self._authorities)
            and ident.value in roster.known
        }
        has_ins = any(is_ins_identifier(ident) for ident in identifiers)
        # An INS we do not know is "unknown patient" even if a local id matches: the ANS rule.
        candidates = by_ins if has_ins else by_local
        if len(candidates) != 1 or (by_local and by_local != candidates):
            return None
        return next(iter(candidates))


def identity_problem(
    identifiers: Sequence[PatientIdentifier],
    store: Store,
    practice_authorities: Sequence[str] = (),
) -> tuple[str, str]:
    """Why a message's patient could not be matched: (ANS error code, French reason).

    The ANS codes of ERR-5: 902 unknown patient, 903 INS absent, 904 INS differs from the
    one known, 905 INS incomplete, 906 other. The reason names no identifier value.
    """
    ins_values = [i.value for i in identifiers if is_ins_identifier(i)]
    authorities = frozenset(practice_authorities)
    local_ids = [i.value for i in identifiers if is_practice_identifier(i, authorities)]
    if not ins_values:
        if local_ids:
            return "903", "INS absent et identifiant du cabinet inconnu"
        return "903", "INS absent (PID-3 sans identifiant INS)"
    if not all(is_valid_ins(value) for value in ins_values):
        return "905", "INS incomplet ou invalide (clé de contrôle, longueur)"
    found = {
        pid for value in ins_values for pid in store.find_patient_ids_by_ins(value)
    }
    if not found:
        return "902", "patient inconnu du cabinet (INS absent de la patientèle)"
    if len(found) > 1:
        return "906", "plusieurs patients du cabinet portent ces INS"
    if local_ids and set(local_ids) != found:
        return "904", "l'INS désigne un autre patient que l'identifiant du cabinet"
    return "906", "rapprochement refusé par un adaptateur"
