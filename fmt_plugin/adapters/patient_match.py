"""Default patient matching: the INS through the store's blind index, then the practice's own id.

Follows the French CI-SIS rule: a message whose identity is unknown, ambiguous or inconsistent
is not matched (the caller quarantines it); guessing a patient is worse than asking a person.
"""

from __future__ import annotations

from collections.abc import Sequence
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


class StorePatientMatcher:
    """Matches against the patients synchronised into the store."""

    def __init__(self, store: Store, practice_authorities: Sequence[str] = ()) -> None:
        self._store = store
        self._authorities = frozenset(practice_authorities)

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
        by_ins = {
            pid
            for ident in identifiers
            if is_ins_identifier(ident)
            for pid in self._store.find_patient_ids_by_ins(ident.value)
        }
        by_local = {
            ident.value
            for ident in identifiers
            if is_practice_identifier(ident, self._authorities)
            and self._store.get_patient(ident.value) is not None
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
