"""Collect every adapter's roster through `fmt_roster` and merge the batches by patient identity.

The first batch (a vendor's, since built-ins run last) wins field by field; later batches only fill
fields it left empty. A record that contradicts an earlier one (same patient id with another INS,
or the same INS under another patient id) is rejected with a problem rather than guessed at.

`too_many_departures` is the guard a sync applies before retiring patients: an export cut short or
misread looks exactly like a practice whose patients all left.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import pluggy

from fmt_plugin.model import Patient, RosterBatch, RowProblem


@dataclass(frozen=True)
class MergedRoster:
    """The practice's patients, merged from every adapter, and what had to be rejected."""

    patients: tuple[Patient, ...]
    problems: tuple[RowProblem, ...]
    sources: tuple[str, ...]


def collect_roster(pm: pluggy.PluginManager, as_of: date) -> MergedRoster:
    """Ask every adapter for its roster at `as_of` and merge the answers."""
    batches: list[RosterBatch] = [
        batch for batch in pm.hook.fmt_roster(as_of=as_of) if batch is not None
    ]
    return merge_batches(batches)


def merge_batches(batches: Sequence[RosterBatch]) -> MergedRoster:
    """Merge batches in priority order (first wins), keeping every problem."""
    by_id: dict[str, Patient] = {}
    id_by_ins: dict[str, str] = {}
    problems: list[RowProblem] = []
    for batch in batches:
        problems.extend(batch.problems)
        for patient in batch.patients:
            existing_id = id_by_ins.get(patient.ins) if patient.ins else None
            if existing_id is not None and existing_id != patient.patient_id:
                what = f"son INS est déjà celui du patient {existing_id}"
                problems.append(_conflict(batch.source, patient, what))
                continue
            earlier = by_id.get(patient.patient_id)
            if earlier is None:
                by_id[patient.patient_id] = patient
            elif earlier.ins and patient.ins and earlier.ins != patient.ins:
                what = "un autre adaptateur lui donne un autre INS"
                problems.append(_conflict(batch.source, patient, what))
                continue
            else:
                by_id[patient.patient_id] = _fill_gaps(earlier, patient)
            if patient.ins:
                id_by_ins[patient.ins] = patient.patient_id
    return MergedRoster(
        patients=tuple(by_id.values()),
        problems=tuple(problems),
        sources=tuple(batch.source for batch in batches),
    )


def _fill_gaps(first: Patient, later: Patient) -> Patient:
    """`first` with its empty fields taken from `later`.

    An objection (RGPD opposition) recorded by any source stands: a recall sent against it
    cannot be taken back, a missed one can be sent later.
    """
    filled: dict[str, Any] = {
        f.name: getattr(later, f.name)
        for f in dataclasses.fields(first)
        if f.name not in ("patient_id", "source")
        and f.name != "opposition"
        and getattr(first, f.name) in (None, "", frozenset())
        and getattr(later, f.name) not in (None, "", frozenset())
    }
    if later.opposition and not first.opposition:
        filled["opposition"] = True
    return dataclasses.replace(first, **filled) if filled else first


def _conflict(source: str, patient: Patient, what: str) -> RowProblem:
    return RowProblem(
        source=source,
        message=f"patient {patient.patient_id} écarté : {what}",
    )


def too_many_departures(leaving: int, active: int, max_percent: int) -> bool:
    """Whether retiring `leaving` of `active` patients exceeds `max_percent` % of them.

    Exactly the limit is allowed; with no active patient (a first sync) nothing is retired.
    """
    return leaving * 100 > active * max_percent
