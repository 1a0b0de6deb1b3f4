"""The practice report of `fmt-plugin report`: JSON (integrations), CSV (spreadsheets), table.

The JSON shape is a contract (issue 3): `as_of`, `rule_pack`, `patients[].indicators{}` with
status, due and evidence, `rates{}`; keys may be added, never renamed. The table is the amelipro
"Patientèle prévention" view: Nom, Prénom, Âge, NIR and a status per indicator.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from fmt_plugin.errors import ConfigError
from fmt_plugin.evaluation import PracticeEvaluation
from fmt_plugin.model import Patient
from fmt_plugin.rules.dates import completed_months, completed_years
from fmt_plugin.rules.model import Evidence, IndicatorStatus, PatientEvaluation, Status
from fmt_plugin.rules.rates import IndicatorRate, fmt_potential
from fmt_plugin.views import french

FORMATS = ("json", "csv", "table")
SORT_KEYS = ("nom", "prenom", "age", "nir", "patient_id", "statut", "echeance")


class ReportOptionError(ConfigError):
    """A report option names an indicator or a sort key that does not exist."""


@dataclass(frozen=True)
class ReportOptions:
    """What to show: one indicator or all, and the table's sort key (`-key`: descending)."""

    indicator: str | None = None
    sort: str = "nom"


def check_options(report: PracticeEvaluation, options: ReportOptions) -> None:
    """Refuse an unknown indicator or sort key, listing what would be accepted."""
    ids = report.pack.indicator_ids
    if options.indicator is not None and options.indicator not in ids:
        raise ReportOptionError(
            f"indicateur « {options.indicator} » inconnu du jeu « {report.pack.id} »",
            key="--indicator",
            expected=", ".join(ids),
        )
    if options.sort.lstrip("-") not in SORT_KEYS:
        raise ReportOptionError(
            f"tri « {options.sort} » inconnu",
            key="--sort",
            expected=", ".join(SORT_KEYS) + " (préfixe - : ordre décroissant)",
        )


def _selected(
    evaluation: PatientEvaluation, indicator: str | None
) -> dict[str, IndicatorStatus]:
    if indicator is None:
        return dict(evaluation.statuses)
    status = evaluation.statuses.get(indicator)
    return {indicator: status} if status is not None else {}


def _listed(
    report: PracticeEvaluation, options: ReportOptions
) -> list[tuple[PatientEvaluation, dict[str, IndicatorStatus]]]:
    rows = []
    for evaluation in report.evaluations:
        statuses = _selected(evaluation, options.indicator)
        if statuses or options.indicator is None:
            rows.append((evaluation, statuses))
    return rows


def _rates(
    report: PracticeEvaluation, options: ReportOptions
) -> dict[str, IndicatorRate]:
    rates = report.rates
    if options.indicator is not None:
        return {options.indicator: rates[options.indicator]}
    return rates


# --- JSON -----------------------------------------------------------------------------------


def evidence_dict(item: Evidence) -> dict[str, Any]:
    """One piece of evidence as the report shows it."""
    return {
        "date": item.date.isoformat(),
        "system": item.system,
        "code": item.code,
        "source": str(item.source),
        "label": item.label,
    }


def status_dict(status: IndicatorStatus) -> dict[str, Any]:
    """One indicator's status as the report shows it."""
    return {
        "status": str(status.status),
        "label": status.status.label,
        "due": status.due.isoformat() if status.due else None,
        "overdue_days": status.overdue_days,
        "due_soon": status.due_soon,
        "reason": status.reason,
        "refused": status.refused,
        "recall_postponed_until": (
            status.recall_postponed_until.isoformat()
            if status.recall_postponed_until
            else None
        ),
        "evidence": [evidence_dict(e) for e in status.evidence],
    }


def render_json(report: PracticeEvaluation, options: ReportOptions) -> str:
    """The report as JSON (patients by internal id only: no names)."""
    rates = _rates(report, options)
    document = {
        "as_of": report.as_of.isoformat(),
        "rule_pack": report.pack.id,
        "rule_pack_version": report.pack.version,
        "patients": [
            {
                "patient_id": evaluation.patient_id,
                "indicators": {i: status_dict(s) for i, s in statuses.items()},
            }
            for evaluation, statuses in _listed(report, options)
        ],
        "rates": {i: rate.to_dict() for i, rate in rates.items()},
        "potentiel_fmt": fmt_potential(report.pack, rates.values()).to_dict(),
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


# --- CSV ------------------------------------------------------------------------------------

CSV_COLUMNS = (
    "patient_id",
    "nom",
    "prenom",
    "age",
    "indicateur",
    "statut",
    "echeance",
    "jours_de_retard",
    "derniere_preuve",
    "refus",
    "rappels_reportes_au",
)


def render_csv(report: PracticeEvaluation, options: ReportOptions) -> str:
    """One row per patient and listed indicator, for a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for evaluation, statuses in _listed(report, options):
        patient = report.patients[evaluation.patient_id]
        for indicator, status in statuses.items():
            last = status.evidence[0].date.isoformat() if status.evidence else ""
            writer.writerow(
                (
                    patient.patient_id,
                    patient.nom,
                    patient.prenom,
                    _age_years(patient, report.as_of),
                    indicator,
                    str(status.status),
                    status.due.isoformat() if status.due else "",
                    "" if status.overdue_days is None else status.overdue_days,
                    last,
                    "1" if status.refused else "0",
                    status.recall_postponed_until.isoformat()
                    if status.recall_postponed_until
                    else "",
                )
            )
    return out.getvalue()


def _age_years(patient: Patient, as_of: date) -> str:
    if patient.birth_date is None:
        return ""
    return str(completed_years(patient.birth_date, as_of))


# --- table ----------------------------------------------------------------------------------


def render_table(report: PracticeEvaluation, options: ReportOptions) -> str:
    """The amelipro-like table, then the taux d'atteinte with numerator and denominator."""
    listed = _listed(report, options)
    columns = _table_indicators(report, listed, options)
    listed.sort(key=_sort_key(report, options), reverse=options.sort.startswith("-"))
    header = ["Nom", "Prénom", "Âge", "NIR", *columns]
    rows = [header]
    for evaluation, statuses in listed:
        patient = report.patients[evaluation.patient_id]
        cells = [_status_cell(statuses.get(i)) for i in columns]
        rows.append(
            [
                patient.nom,
                patient.prenom,
                _age_cell(patient, report.as_of),
                french.nir(patient.ins),
                *cells,
            ]
        )
    lines = [
        f"Indicateurs de prévention au {french.day(report.as_of)} — jeu {report.pack.id}",
        "",
        *_aligned(rows),
        "",
        "Taux d'atteinte (fait / (fait + à vérifier)) :",
    ]
    rates = _rates(report, options)
    for indicator, rate in rates.items():
        label = report.pack.indicator(indicator).label
        taux = "—" if rate.taux is None else f"{rate.taux * 100:.1f} %"
        lines.append(
            f"  {label} : {rate.fait}/{rate.denominator} ({taux}) ; "
            f"à venir {rate.a_venir}, exclus {rate.exclu}"
        )
    potential = fmt_potential(report.pack, rates.values())
    lines.append(
        f"Potentiel FMT : {potential.earned_eur} € acquis ({potential.fait} indicateurs "
        f"faits), {potential.missed_eur} € à aller chercher ({potential.a_verifier} à vérifier)"
    )
    return "\n".join(lines) + "\n"


def _table_indicators(
    report: PracticeEvaluation,
    listed: Sequence[tuple[PatientEvaluation, dict[str, IndicatorStatus]]],
    options: ReportOptions,
) -> list[str]:
    if options.indicator is not None:
        return [options.indicator]
    present = {i for _, statuses in listed for i in statuses}
    return [i for i in report.pack.indicator_ids if i in present]


def _status_cell(status: IndicatorStatus | None) -> str:
    if status is None:
        return ""
    text = status.status.label
    if status.refused:
        text += " (refus)"
    return text


def _age_cell(patient: Patient, as_of: date) -> str:
    if patient.birth_date is None:
        return "—"
    years = completed_years(patient.birth_date, as_of)
    return french.age(years, completed_months(patient.birth_date, as_of))


_STATUS_ORDER = {
    Status.A_VERIFIER: 0,
    Status.A_VENIR: 1,
    Status.FAIT: 2,
    Status.EXCLU: 3,
}

Row = tuple[PatientEvaluation, dict[str, IndicatorStatus]]


def _sort_key(
    report: PracticeEvaluation, options: ReportOptions
) -> Callable[[Row], Any]:
    key = options.sort.lstrip("-")

    def patient_of(row: Row) -> Patient:
        return report.patients[row[0].patient_id]

    def by(row: Row) -> Any:
        patient = patient_of(row)
        statuses = row[1]
        if key == "statut":
            if options.indicator is not None:
                status = statuses.get(options.indicator)
                return _STATUS_ORDER[status.status] if status else 9
            # All indicators: the patients with the most to check first.
            return -sum(s.status is Status.A_VERIFIER for s in statuses.values())
        if key == "echeance":
            dues = [s.due for s in statuses.values() if s.due is not None]
            return min(dues, default=date.max)
        if key == "age":  # youngest first: the latest birth date first
            birth = patient.birth_date
            return -birth.toordinal() if birth else 0
        if key == "nir":
            return patient.ins or ""
        if key == "patient_id":
            return patient.patient_id
        if key == "prenom":
            return (patient.prenom.casefold(), patient.nom.casefold())
        return (patient.nom.casefold(), patient.prenom.casefold())

    return by


def _aligned(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    lines = []
    for index, row in enumerate(rows):
        lines.append(
            "  ".join(
                cell.ljust(w) for cell, w in zip(row, widths, strict=True)
            ).rstrip()
        )
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


RENDERERS: dict[str, Callable[[PracticeEvaluation, ReportOptions], str]] = {
    "json": render_json,
    "csv": render_csv,
    "table": render_table,
}
