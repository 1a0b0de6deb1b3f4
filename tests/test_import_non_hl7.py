"""`import` of files that are not HL7: one rejected or skipped file each, never quarantine entries."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import PUBLIC_SCENARIO, cli

from fmt_plugin.bulk_import import ImportSummary, not_hl7
from fmt_plugin.installation import open_installation
from fmt_plugin.views.hl7_inbox import render_import_summary

MESSAGES = PUBLIC_SCENARIO / "messages"
GOOD = MESSAGES / "q06_hba1c.hl7"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" * 50


def csv_export(path: Path, lines: int = 300) -> Path:
    """A CSV file of `lines` lines, as a roster export dropped in the wrong folder."""
    rows = [f"P{n:03d};X;Y;01/01/1970;H;;;;0;;;" for n in range(lines)]
    path.write_text("patient_id;ins;nom\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def quarantined(config: Path) -> int:
    """How many messages the store keeps in quarantine."""
    with open_installation(config) as installation:
        return len(installation.store.inbox.quarantined())


def test_a_named_pdf_is_one_rejected_file_and_an_error(scenario_config, tmp_path):
    """`import compte-rendu.pdf`: exit 1, the file named as rejected, nothing quarantined."""
    pdf = tmp_path / "compte-rendu.pdf"
    pdf.write_bytes(PDF)
    result = cli(tmp_path, "--config", scenario_config, "import", pdf)
    assert result.returncode == 1
    assert f"REJETÉ, pas du HL7 : {pdf} (document PDF)" in result.stdout
    assert "en quarantaine  : 0" in result.stdout
    assert quarantined(scenario_config) == 0


def test_a_named_csv_of_300_lines_is_not_300_quarantine_entries(
    scenario_config, tmp_path
):
    """A CSV given by mistake is one rejected file, not one quarantined message per line."""
    export = csv_export(tmp_path / "patients.csv")
    result = cli(tmp_path, "--config", scenario_config, "import", export)
    assert result.returncode == 1
    assert result.stdout.count("REJETÉ") == 1
    assert "ne commence pas par un segment MSH" in result.stdout
    assert quarantined(scenario_config) == 0


def test_non_hl7_files_in_a_folder_are_skipped_with_a_warning(
    scenario_config, tmp_path
):
    """A folder with HL7 files, a PDF and a CSV imports the messages and lists the others."""
    folder = tmp_path / "recus"
    shutil.copytree(MESSAGES, folder)
    (folder / "scan.pdf").write_bytes(PDF)
    csv_export(folder / "export.csv")
    result = cli(tmp_path, "--config", scenario_config, "import", folder)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "10 messages lus dans 10 fichier(s)" in result.stdout
    assert "ignorés         : 2 fichier(s) qui ne sont pas du HL7" in result.stdout
    assert f"{folder / 'scan.pdf'} (document PDF)" in result.stdout
    assert f"{folder / 'export.csv'} (ne commence pas par un segment MSH)" in (
        result.stdout
    )
    assert quarantined(scenario_config) == 1  # the scenario's own unknown patient


def test_a_folder_without_any_hl7_file_is_an_error(scenario_config, tmp_path):
    """A folder holding only non-HL7 files imports nothing and says so, exit 1."""
    folder = tmp_path / "mauvais"
    folder.mkdir()
    (folder / "scan.pdf").write_bytes(PDF)
    result = cli(tmp_path, "--config", scenario_config, "import", folder)
    assert result.returncode == 1
    assert "Aucun fichier HL7 trouvé" in result.stdout


def test_hl7_with_a_bom_and_leading_blank_lines_is_imported(scenario_config, tmp_path):
    """A BOM then blank lines before MSH is still HL7: imported, not skipped."""
    path = tmp_path / "bom.hl7"
    path.write_bytes(b"\xef\xbb\xbf\r\n\r\n  \n" + GOOD.read_bytes())
    result = cli(tmp_path, "--config", scenario_config, "import", path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "intégrés        : 1" in result.stdout


def test_an_mllp_frame_with_a_bom_inside_is_imported(scenario_config, tmp_path):
    """`0x0B`, a BOM, then MSH: an MLLP dump from a Windows tool, still HL7."""
    path = tmp_path / "dump.mllp"
    path.write_bytes(b"\x0b\xef\xbb\xbf" + GOOD.read_bytes().strip(b"\r") + b"\x1c\r")
    result = cli(tmp_path, "--config", scenario_config, "import", path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "intégrés        : 1" in result.stdout


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"MSH|^~\\&|LAB", None),
        (b"\r\n\r\nMSH|^~\\&|LAB", None),
        (b"\xef\xbb\xbfMSH|^~\\&|LAB", None),
        (b"\x0b\xef\xbb\xbfMSH|^~\\&|LAB", None),
        (b"FHS|^~\\&\rBHS|^~\\&\rMSH|", None),
        (b"BHS|^~\\&\rMSH|", None),
        (b"", "fichier vide"),
        (b" \r\n", "fichier vide"),
        (PDF, "document PDF"),
        (b"PK\x03\x04rest", "archive ZIP (classeur Excel, document Word…)"),
        (b"\x00\x01\x02", "fichier binaire"),
        (b"patient_id;nom\nMSH|", "ne commence pas par un segment MSH"),
        (b"PID|1||X", "ne commence pas par un segment MSH"),
    ],
)
def test_not_hl7_tells_what_a_file_looks_like(data, expected):
    """HL7 starts with MSH, FHS or BHS after blanks, MLLP blocks and BOMs; else it is named."""
    assert not_hl7(data) == expected


def test_a_long_list_of_skipped_files_is_cut_and_counted():
    """Past 20 skipped files, the summary counts the others instead of listing them."""
    summary = ImportSummary(files=1, messages=1, accepted=1)
    summary.skipped = [
        (Path(f"/recus/scan{n:02d}.pdf"), "document PDF") for n in range(25)
    ]
    text = render_import_summary(summary)
    assert "ignorés         : 25 fichier(s)" in text
    assert "/recus/scan19.pdf" in text
    assert "/recus/scan20.pdf" not in text
    assert "… et 5 autre(s)" in text
