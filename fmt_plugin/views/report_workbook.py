"""`report --format xlsx`: the practice report as an Excel workbook.

The same rows as the CSV (`report_rows`), but typed: dates are dates (sortable, shown
JJ/MM/AAAA), ages and delays are numbers, the NIR stays text. A second sheet holds the taux
d'atteinte. The header row is frozen and filterable, as an assistant would set it up by hand.
"""

from __future__ import annotations

from datetime import date
from io import BytesIO

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from fmt_plugin.evaluation import PracticeEvaluation
from fmt_plugin.rules.rates import fmt_potential
from fmt_plugin.views import french
from fmt_plugin.views.practice_report import (
    FILE_COLUMNS,
    ReportOptions,
    ReportRow,
    listed_rates,
    report_rows,
)

DATE_FORMAT = "DD/MM/YYYY"
PERCENT_FORMAT = "0.0%"
RATE_COLUMNS = (
    "Indicateur",
    "Code indicateur",
    "Fait",
    "Fait + à vérifier",
    "Taux d'atteinte",
    "À venir",
    "Exclus",
)
#: Excel's column width is in characters; past this a cell is read in the formula bar.
MAX_COLUMN_WIDTH = 40

Cell = str | int | float | date | None


def render_xlsx(report: PracticeEvaluation, options: ReportOptions) -> bytes:
    """The workbook's bytes: sheet "Indicateurs" (one row per patient and indicator), "Taux"."""
    workbook = Workbook()
    patients = workbook.worksheets[0]
    patients.title = "Indicateurs"
    _fill(patients, FILE_COLUMNS, [_cells(row) for row in report_rows(report, options)])
    rates = workbook.create_sheet("Taux")
    _fill(rates, RATE_COLUMNS, _rate_cells(report, options))
    potential = fmt_potential(report.pack, listed_rates(report, options).values())
    rates.append([])
    rates.append(
        [
            f"Potentiel FMT au {french.day(report.as_of)}",
            None,
            potential.earned_eur,
            potential.missed_eur,
        ]
    )
    rates.append([None, None, "€ acquis", "€ à aller chercher"])
    out = BytesIO()
    workbook.save(out)
    return out.getvalue()


def _cells(row: ReportRow) -> list[Cell]:
    status = row.status
    patient = row.patient
    label = status.label + (" (refus)" if status.refused else "")
    return [
        patient.patient_id,
        patient.nom,
        patient.prenom,
        patient.birth_date,
        row.age_years,
        french.nir(patient.ins) if patient.ins else None,
        row.indicator_label,
        row.indicator_id,
        label,
        status.due,
        status.overdue_days,
        row.last_act,
        "oui" if status.refused else "non",
        status.recall_postponed_until,
    ]


def _rate_cells(report: PracticeEvaluation, options: ReportOptions) -> list[list[Cell]]:
    return [
        [
            report.pack.indicator(indicator).label,
            indicator,
            rate.fait,
            rate.denominator,
            rate.taux,
            rate.a_venir,
            rate.exclu,
        ]
        for indicator, rate in listed_rates(report, options).items()
    ]


def _fill(sheet: Worksheet, header: tuple[str, ...], rows: list[list[Cell]]) -> None:
    """Header in bold, frozen and filterable; dates and percentages formatted; widths fitted."""
    sheet.append(list(header))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(row)
    for index, column in enumerate(sheet.iter_cols(min_row=2)):
        is_rate = header[index] == "Taux d'atteinte"
        for cell in column:
            if isinstance(cell.value, date):
                cell.number_format = DATE_FORMAT
            elif is_rate:
                cell.number_format = PERCENT_FORMAT
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    for index, name in enumerate(header, start=1):
        longest = max(
            [len(name)] + [_shown_length(row[index - 1]) for row in rows],
        )
        sheet.column_dimensions[get_column_letter(index)].width = min(
            longest + 2, MAX_COLUMN_WIDTH
        )


def _shown_length(value: Cell) -> int:
    if value is None:
        return 0
    if isinstance(value, date):
        return len("JJ/MM/AAAA")
    return len(str(value))
