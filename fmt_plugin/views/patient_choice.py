"""The numbered list of patients a search found, for the practice to pick one from.

Columns as in amelipro's patientèle list: Identifiant, Nom, Prénom, Né(e) le, NIR (grouped as
on the carte Vitale). The list names patients: it goes to the terminal, never to a log.
"""

from __future__ import annotations

from collections.abc import Sequence

from fmt_plugin.patient_search import PatientMatches
from fmt_plugin.views import french

HEADERS = ("n°", "Identifiant", "Nom", "Prénom", "Né(e) le", "NIR", "")
RETIRED_MARK = "sorti(e) de la patientèle"


def render_choices(matches: PatientMatches) -> str:
    """`3 patients correspondent :` then one numbered row per patient, aligned."""
    rows = [HEADERS]
    for number, patient in enumerate(matches.patients, start=1):
        born = french.day(patient.birth_date) if patient.birth_date else "—"
        rows.append(
            (
                str(number),
                patient.patient_id,
                patient.nom or "—",
                patient.prenom or "—",
                born,
                french.nir(patient.ins),
                RETIRED_MARK if matches.is_retired(patient) else "",
            )
        )
    title = f"{french.number(len(matches.patients))} patients correspondent :"
    return "\n".join([title, "", *_aligned(rows)]) + "\n"


def _aligned(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    lines = []
    for index, row in enumerate(rows):
        cells = [row[0].rjust(widths[0])]
        cells += [cell.ljust(w) for cell, w in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths if w).rstrip())
    return lines
