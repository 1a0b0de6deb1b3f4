"""The practice report of `fmt-plugin report`: JSON (integrations), CSV and xlsx (French
spreadsheets), table (the terminal).

The JSON shape is a contract (issue 3): `as_of`, `rule_pack`, `patients[].indicators{}` with
status, due and evidence, `rates{}`; keys may be added, never renamed. The files speak French
Excel: `;`, UTF-8 with a BOM, JJ/MM/AAAA, French headers and labels. The table is amelipro's
list, fitted to the terminal's width (`fitted_table`).
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
from fmt_plugin.views.fitted_table import fitted_table

FORMATS = ("table", "csv", "xlsx", "json")
SORT_KEYS = ("nom", "prenom", "age", "nir", "patient_id", "statut", "echeance")


class ReportOptionError(ConfigError):
    """A report option names an indicator or a sort key that does not exist."""


@dataclass(frozen=True)
class ReportOptions:
    """What to show: one indicator or all, which statuses (None: all), the sort key (`-key`:
    descending) and the width the table must fit in (None: no limit)."""

    indicator: str | None = None
    sort: str = "nom"
    statuses: frozenset[Status] | None = None
    width: int | None = None


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
    evaluation: PatientEvaluation, options: ReportOptions
) -> dict[str, IndicatorStatus]:
    return {
        indicator: status
        for indicator, status in evaluation.statuses.items()
        if options.indicator in (None, indicator)
        and (options.statuses is None or status.status in options.statuses)
    }


def _listed(
    report: PracticeEvaluation, options: ReportOptions, *, keep_empty: bool = False
) -> list[tuple[PatientEvaluation, dict[str, IndicatorStatus]]]:
    """The patients with something listed (and, if `keep_empty`, the others too)."""
    rows = []
    for evaluation in report.evaluations:
        statuses = _selected(evaluation, options)
        if statuses or keep_empty:
            rows.append((evaluation, statuses))
    return rows


def _sorted_listed(
    report: PracticeEvaluation, options: ReportOptions
) -> list[tuple[PatientEvaluation, dict[str, IndicatorStatus]]]:
    """The listed patients in the order of `--sort` (`-key`: descending)."""
    listed = _listed(report, options)
    listed.sort(key=_sort_key(report, options), reverse=options.sort.startswith("-"))
    return listed


def listed_rates(
    report: PracticeEvaluation, options: ReportOptions
) -> dict[str, IndicatorRate]:
    """The taux of the listed indicator, or of all (never filtered by status)."""
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
        "hors_fmt": status.hors_fmt,
        "evidence": [evidence_dict(e) for e in status.evidence],
        "catch_up": status.catch_up,
        "window_closed": (
            status.window_closed.isoformat() if status.window_closed else None
        ),
    }


def render_json(report: PracticeEvaluation, options: ReportOptions) -> str:
    """The report as JSON (patients by internal id only: no names)."""
    rates = listed_rates(report, options)
    document = {
        "as_of": report.as_of.isoformat(),
        "rule_pack": report.pack.id,
        "rule_pack_version": report.pack.version,
        "patients": [
            {
                "patient_id": evaluation.patient_id,
                "indicators": {i: status_dict(s) for i, s in statuses.items()},
            }
            for evaluation, statuses in _listed(
                report, options, keep_empty=_json_keeps_everyone(options)
            )
        ],
        "rates": {i: rate.to_dict() for i, rate in rates.items()},
        "potentiel_fmt": fmt_potential(report.pack, rates.values()).to_dict(),
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def _json_keeps_everyone(options: ReportOptions) -> bool:
    """The JSON lists every active patient (its contract) unless a filter is asked for."""
    return options.indicator is None and options.statuses is None


# --- rows (CSV and workbook) -----------------------------------------------------------------


@dataclass(frozen=True)
class ReportRow:
    """One patient and one indicator, with typed values: the files' line."""

    patient: Patient
    indicator_id: str
    indicator_label: str
    status: IndicatorStatus
    age_years: int | None

    @property
    def last_act(self) -> date | None:
        """The date of the newest evidence, if any."""
        return self.status.evidence[0].date if self.status.evidence else None


def report_rows(report: PracticeEvaluation, options: ReportOptions) -> list[ReportRow]:
    """Every listed patient × indicator, sorted as the table is, for the files."""
    listed = _sorted_listed(report, options)
    rows = []
    for evaluation, statuses in listed:
        patient = report.patients[evaluation.patient_id]
        age = (
            completed_years(patient.birth_date, report.as_of)
            if patient.birth_date
            else None
        )
        for indicator, status in statuses.items():
            label = report.pack.indicator(indicator).label
            rows.append(ReportRow(patient, indicator, label, status, age))
    return rows


#: The files' columns, as French Excel shows them (the JSON keeps its English contract).
FILE_COLUMNS = (
    "Identifiant patient",
    "Nom",
    "Prénom",
    "Date de naissance",
    "Âge",
    "NIR",
    "Indicateur",
    "Code indicateur",
    "Statut",
    "Échéance",
    "Jours de retard",
    "Dernier acte",
    "Refus",
    "Rappels reportés au",
    "Hors FMT",
)


def _optional_day(value: date | None) -> str:
    return french.day(value) if value is not None else ""


def csv_cells(row: ReportRow) -> list[str]:
    """The row's cells as French Excel reads them: JJ/MM/AAAA, NIR in its groups, oui/non."""
    status = row.status
    return [
        row.patient.patient_id,
        row.patient.nom,
        row.patient.prenom,
        _optional_day(row.patient.birth_date),
        "" if row.age_years is None else str(row.age_years),
        # Grouped as on the carte Vitale: Excel keeps it as text, a bare 15-digit number
        # would be shown as 1,48081E+14 and lose its last digits.
        french.nir(row.patient.ins) if row.patient.ins else "",
        row.indicator_label,
        row.indicator_id,
        status_label(status),
        _optional_day(status.due),
        "" if status.overdue_days is None else str(status.overdue_days),
        _optional_day(row.last_act),
        "oui" if status.refused else "non",
        _optional_day(status.recall_postponed_until),
        "oui" if status.hors_fmt else "non",
    ]


def render_csv(report: PracticeEvaluation, options: ReportOptions) -> str:
    """One row per patient and listed indicator, for French Excel: `;`, UTF-8 with a BOM."""
    out = io.StringIO()
    # The BOM is how Excel knows the file is UTF-8 (without it: "PrÃ©nom"); `;` is the
    # list separator of a French Windows, and CRLF what Excel writes itself.
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(FILE_COLUMNS)
    for row in report_rows(report, options):
        writer.writerow(csv_cells(row))
    return out.getvalue()


# --- table ----------------------------------------------------------------------------------


def render_table(report: PracticeEvaluation, options: ReportOptions) -> str:
    """The amelipro-like list, then the taux d'atteinte with numerator and denominator.

    With `--indicator`: one line per patient (Nom, Prénom, Âge, NIR, Statut, Échéance,
    Dernier acte). Without: one line per patient and indicator, the patient's cells on
    their first line only. Patients with nothing listed are left out.
    """
    listed = _sorted_listed(report, options)
    if options.indicator is None:
        rows, shrinkable = _practice_rows(report, listed)
    else:
        rows, shrinkable = _indicator_rows(report, listed)
    lines = [_title(report, options), _count_line(listed, options), ""]
    if len(rows) > 1:
        lines += fitted_table(rows, options.width, shrinkable)
    else:
        lines.append("Aucun patient à lister.")
    lines += ["", *_rate_lines(report, options)]
    return "\n".join(lines) + "\n"


def _title(report: PracticeEvaluation, options: ReportOptions) -> str:
    title = f"Indicateurs de prévention au {french.day(report.as_of)} — jeu {report.pack.id}"
    if options.indicator is not None:
        title += f" — {report.pack.indicator(options.indicator).label}"
    return title


def _count_line(listed: Sequence[Row], options: ReportOptions) -> str:
    text = french.count(len(listed), "patient", "patients")
    if options.statuses:
        labels = [s.label.lower() for s in Status if s in options.statuses]
        text += " — statut : " + ", ".join(labels)
    return text


def _patient_cells(patient: Patient, as_of: date) -> list[str]:
    return [patient.patient_id, patient.nom, patient.prenom, _age_cell(patient, as_of)]


def _status_cells(status: IndicatorStatus) -> list[str]:
    last = status.evidence[0].date if status.evidence else None
    return [
        status_label(status),
        french.day(status.due) if status.due else "—",
        french.day(last) if last else "—",
    ]


TableRows = tuple[list[list[str]], tuple[int, ...]]


def _practice_rows(report: PracticeEvaluation, listed: Sequence[Row]) -> TableRows:
    header = ["Patient", "Nom", "Prénom", "Âge", "Indicateur"]
    rows = [[*header, "Statut", "Échéance", "Dernier acte"]]
    for evaluation, statuses in listed:
        patient = report.patients[evaluation.patient_id]
        first = _patient_cells(patient, report.as_of)
        for indicator in report.pack.indicator_ids:
            status = statuses.get(indicator)
            if status is None:
                continue
            label = report.pack.indicator(indicator).column_label
            rows.append([*first, label, *_status_cells(status)])
            first = [""] * len(first)
    return rows, (1, 2, 4)


def _indicator_rows(report: PracticeEvaluation, listed: Sequence[Row]) -> TableRows:
    rows = [
        ["Patient", "Nom", "Prénom", "Âge", "NIR", "Statut", "Échéance", "Dernier acte"]
    ]
    for evaluation, statuses in listed:
        patient = report.patients[evaluation.patient_id]
        for status in statuses.values():
            rows.append(
                [
                    *_patient_cells(patient, report.as_of),
                    french.nir(patient.ins),
                    *_status_cells(status),
                ]
            )
    return rows, (1, 2)


def _rate_lines(report: PracticeEvaluation, options: ReportOptions) -> list[str]:
    lines = ["Taux d'atteinte (fait / (fait + à vérifier)) :"]
    rates = listed_rates(report, options)
    for indicator, rate in rates.items():
        label = report.pack.indicator(indicator).label
        line = (
            f"  {label} : {rate.fait}/{rate.denominator} ({french.percent(rate.taux)}) ; "
            f"à venir {french.number(rate.a_venir)}, exclus {french.number(rate.exclu)}"
            + (f", hors FMT {french.number(rate.hors_fmt)}" if rate.hors_fmt else "")
        )
        if rate.rattrapage:
            line += f", dont {french.number(rate.rattrapage)} à vérifier en rattrapage"
        lines.append(line)
    potential = fmt_potential(report.pack, rates.values())
    lines.append(
        f"Potentiel FMT : {french.euros(potential.earned_eur)} acquis "
        f"({french.count(potential.fait, 'indicateur fait', 'indicateurs faits')}), "
        f"{french.euros(potential.missed_eur)} à aller chercher "
        f"({french.number(potential.a_verifier)} à vérifier)"
    )
    if options.statuses:
        lines.append(
            "(taux calculés sur toute la patientèle, quel que soit le filtre de statut)"
        )
    return lines


def status_label(status: IndicatorStatus | None) -> str:
    """`À vérifier`, with `(refus)` and `(hors FMT)` when they apply; empty for no status."""
    if status is None:
        return ""
    text = status.label
    if status.refused:
        text += " (refus)"
    if status.hors_fmt:
        text += " (hors FMT)"
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


RENDERERS: dict[str, Callable[[PracticeEvaluation, ReportOptions], str]] = {
    "json": render_json,
    "csv": render_csv,
    "table": render_table,
}
