"""The CSV roster adapter on files as French Excel and EHRs write them: `;`, cp1252, BOM, JJ/MM/AAAA."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest

from fmt_plugin.adapters.csv_format import CsvFormat
from fmt_plugin.adapters.csv_roster import (
    ROSTER_COLUMNS,
    CsvRosterAdapter,
    read_acts,
    read_roster,
)
from fmt_plugin.config import load_config
from fmt_plugin.errors import ConfigError, InputError

#: The header as a French practice's spreadsheet spells it.
FRENCH_HEADER = [
    "patient_id",
    "INS",
    "Nom",
    "Prénom",
    "Date naissance",
    "Sexe",
    "ALD",
    "Conditions",
    "Flags",
    "Opposition",
    "MSSanté",
    "E-mail",
    "Téléphone",
]
# `|`-joined for brevity; the file itself is `;`-separated, so `8;13` gets quoted.
ROWS = [
    line.split("|")
    for line in (
        "Q01|125120905620191|AUGUSTE|CHRISTIAN|01/12/2025|M||||0|||",
        "Q02|114010905620265|DESCOMBES|FRANÇOISE|20/01/2014|F|8;13|E11.9|risk:grippe|1|"
        + "|f@b.fr|06 00 00 00 00",
        "Q03|189050905620342|DUMONT|NOËL|02/05/1989|H||||0|||",
    )
]


def export(
    path: Path,
    rows: list[list[str]],
    *,
    header: list[str] = FRENCH_HEADER,
    encoding: str = "cp1252",
    delimiter: str = ";",
    bom: bool = False,
    line_suffix: str = "",
    tail: str = "",
) -> Path:
    """Write `rows` under `header` as Excel does (CRLF, minimal quoting) and return `path`."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    for row in [header, *rows]:
        writer.writerow(row)
    text = out.getvalue().replace("\r\n", line_suffix + "\r\n") + tail
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding))
    return path


def test_french_excel_roster_is_read_with_every_field(tmp_path: Path) -> None:
    """A `;` cp1252 CRLF export with French headers and JJ/MM/AAAA dates gives its patients."""
    patients, problems = read_roster(export(tmp_path / "patients.csv", ROWS))
    assert problems == []
    second = patients[1]
    assert (second.patient_id, second.prenom, second.birth_date) == (
        "Q02",
        "FRANÇOISE",
        date(2014, 1, 20),
    )
    assert (second.ald, second.conditions, second.flags) == (
        {8, 13},
        {"E11.9"},
        {"risk:grippe"},
    )
    assert (second.opposition, second.email, second.telephone) == (
        True,
        "f@b.fr",
        "06 00 00 00 00",
    )


def test_h_for_homme_is_male(tmp_path: Path) -> None:
    """French exports write H for homme: it is read as M."""
    patients, _ = read_roster(export(tmp_path / "patients.csv", ROWS))
    assert patients[2].sex == "M"
    assert patients[2].prenom == "NOËL"


def test_utf8_with_bom_and_semicolons_is_read(tmp_path: Path) -> None:
    """French Excel's "CSV UTF-8": a BOM, then `;`-separated UTF-8."""
    path = export(tmp_path / "patients.csv", ROWS, encoding="utf-8", bom=True)
    patients, problems = read_roster(path)
    assert [p.prenom for p in patients] == ["CHRISTIAN", "FRANÇOISE", "NOËL"]
    assert problems == []


def test_tab_separated_text_is_read(tmp_path: Path) -> None:
    """Excel's "Texte (séparateur : tabulation)" is read like a CSV."""
    path = export(tmp_path / "patients.txt", ROWS, delimiter="\t")
    assert len(read_roster(path)[0]) == 3


def test_utf16_unicode_text_with_its_bom_is_read(tmp_path: Path) -> None:
    """Excel's "Texte Unicode" (UTF-16 with a BOM, tab-separated) is read."""
    path = export(tmp_path / "patients.txt", ROWS, delimiter="\t", encoding="utf-16")
    assert [p.prenom for p in read_roster(path)[0]][1] == "FRANÇOISE"


def test_a_separator_after_the_last_cell_of_every_line_is_no_column(
    tmp_path: Path,
) -> None:
    """A `;` at the end of every line, header included, gives no problem."""
    path = export(tmp_path / "patients.csv", ROWS, line_suffix=";")
    patients, problems = read_roster(path)
    assert len(patients) == 3
    assert problems == []


def test_trailing_blank_and_separator_only_lines_are_ignored(tmp_path: Path) -> None:
    """Empty lines and Excel's `;;;;` lines at the end are neither records nor problems."""
    path = export(tmp_path / "patients.csv", ROWS, tail=";;;;;;;;;;;;\r\n\r\n\r\n")
    patients, problems = read_roster(path)
    assert len(patients) == 3
    assert problems == []


def test_a_line_missing_its_empty_last_cells_is_read(tmp_path: Path) -> None:
    """Excel may leave the empty cells at a line's end out: they are read as empty."""
    short = ROWS[0][:10]  # up to `Opposition`; the contact cells are left out
    patients, problems = read_roster(export(tmp_path / "p.csv", [short, ROWS[1]]))
    assert [p.patient_id for p in patients] == ["Q01", "Q02"]
    assert patients[0].email is None
    assert problems == []


def test_a_line_cut_before_a_required_cell_is_rejected_on_that_cell(
    tmp_path: Path,
) -> None:
    """A short line whose missing cells include a required one is reported there."""
    short = ROWS[0][:6]  # no `Opposition`
    patients, problems = read_roster(export(tmp_path / "p.csv", [short, ROWS[1]]))
    assert [p.patient_id for p in patients] == ["Q02"]
    assert [(p.line, p.column) for p in problems] == [(2, "opposition")]


def test_excel_sep_line_names_the_separator(tmp_path: Path) -> None:
    """A first line `sep=;` is Excel's hint: it sets the separator and is no header."""
    path = export(tmp_path / "p.csv", ROWS)
    path.write_bytes(b"sep=;\r\n" + path.read_bytes())
    patients, problems = read_roster(path)
    assert len(patients) == 3
    assert problems == []


def test_line_numbers_count_from_the_file_top(tmp_path: Path) -> None:
    """A bad cell is located on its physical line, blank lines above the header included."""
    bad = [*ROWS[0][:4], "31/02/1990", *ROWS[0][5:]]
    path = export(tmp_path / "p.csv", [ROWS[1], bad])
    path.write_bytes(b"\r\n;;;;\r\n" + path.read_bytes())
    _, problems = read_roster(path)
    assert [(p.line, p.column) for p in problems] == [(5, "date_naissance")]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("01/12/2025", date(2025, 12, 1)),
        ("1/2/2025", date(2025, 2, 1)),
        ("01.12.2025", date(2025, 12, 1)),
        ("01-12-2025", date(2025, 12, 1)),
        ("2025-12-01", date(2025, 12, 1)),
        ("01/12/2025 00:00", date(2025, 12, 1)),
        ("2025-12-01T08:30:00", date(2025, 12, 1)),
    ],
)
def test_birth_dates_in_french_or_iso_form(
    tmp_path: Path, cell: str, expected: date
) -> None:
    """JJ/MM/AAAA (with `/`, `.` or `-`, a time after it or not) and AAAA-MM-JJ are read."""
    row = [*ROWS[0][:4], cell, *ROWS[0][5:]]
    patients, problems = read_roster(export(tmp_path / "p.csv", [row]))
    assert problems == []
    assert patients[0].birth_date == expected


def test_a_two_digit_year_is_refused_and_said_so(tmp_path: Path) -> None:
    """01/12/25 could be 1925 or 2025: refused, the message says why."""
    row = [*ROWS[0][:4], "01/12/25", *ROWS[0][5:]]
    _, problems = read_roster(export(tmp_path / "p.csv", [row]))
    (problem,) = problems
    assert problem.message == (
        "date « date_naissance » avec l'année sur 2 chiffres, "
        "attendu JJ/MM/AAAA ou AAAA-MM-JJ"
    )


@pytest.mark.parametrize("cell", ["31/02/1990", "02/30/1990", "1990-02-31", "hier"])
def test_a_bad_french_date_is_reported_without_its_value(
    tmp_path: Path, cell: str
) -> None:
    """An impossible or unknown date is reported by column and line, never quoted."""
    row = [*ROWS[0][:4], cell, *ROWS[0][5:]]
    _, problems = read_roster(export(tmp_path / "p.csv", [row]))
    (problem,) = problems
    assert (problem.line, problem.column) == (2, "date_naissance")
    assert cell not in str(problem).replace(str(problem.path), "")


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("OUI", True), ("Vrai", True), ("non", False), ("FAUX", False)],
)
def test_opposition_in_french_words(tmp_path: Path, cell: str, expected: bool) -> None:
    """oui/non and Excel's VRAI/FAUX are read as 1/0."""
    row = [*ROWS[0][:9], cell, *ROWS[0][10:]]
    patients, problems = read_roster(export(tmp_path / "p.csv", [row]))
    assert problems == []
    assert patients[0].opposition is expected


def test_lists_separated_by_commas_are_read(tmp_path: Path) -> None:
    """`8, 13` in a `;` file's ALD cell is the list {8, 13}."""
    row = [*ROWS[0][:6], "8, 13", "E11.9, I10", *ROWS[0][8:]]
    patients, _ = read_roster(export(tmp_path / "p.csv", [row]))
    assert (patients[0].ald, patients[0].conditions) == ({8, 13}, {"E11.9", "I10"})


def test_french_acts_file_is_read(tmp_path: Path) -> None:
    """An acts export in `;` cp1252 with « Date acte » and JJ/MM/AAAA dates gives its acts."""
    path = export(
        tmp_path / "actes.csv",
        [
            ["Q01", "09/12/2025", "NGAP", "COE"],
            ["Q07", "01/02/2025", "ccam", "QEQK004"],
        ],
        header=["Patient_ID", "Date acte", "Système", "Code"],
    )
    acts, problems = read_acts(path)
    assert problems == []
    assert [(a.patient_id, a.date, a.system) for a in acts] == [
        ("Q01", date(2025, 12, 9), "NGAP"),
        ("Q07", date(2025, 2, 1), "CCAM"),
    ]


# --- Files that cannot be read at all ----------------------------------------------------------


def test_a_missing_column_names_it_and_the_separator_read(tmp_path: Path) -> None:
    """A header without `sexe` raises an error naming the column, the encoding and separator."""
    header = [name for name in FRENCH_HEADER if name != "Sexe"]
    rows = [row[:5] + row[6:] for row in ROWS]
    path = export(tmp_path / "p.csv", rows, header=header)
    with pytest.raises(InputError) as info:
        read_roster(path)
    message = str(info.value)
    assert message.startswith(f"{path}, ligne 1, colonne « sexe »")
    assert "encodage Windows-1252 détecté, séparateur « ; » détecté" in message


def test_a_separator_set_wrong_is_named_in_the_error(tmp_path: Path) -> None:
    """A `;` file read with `delimiter = ","` fails saying the separator was imposed."""
    path = export(tmp_path / "p.csv", ROWS)
    with pytest.raises(
        InputError, match="séparateur « , » imposé par la configuration"
    ):
        read_roster(path, CsvFormat(delimiter=","))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"PK\x03\x04\x14\x00\x06\x00", "xlsx"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", ".xls"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "PDF"),
        (b"\x00\x01\x02binary", "binaire"),
    ],
    ids=["xlsx", "xls", "pdf", "binary"],
)
def test_a_file_that_is_no_csv_is_refused_saying_what_it_is(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    """A spreadsheet, a PDF or binary bytes raise InputError naming the file and its kind."""
    path = tmp_path / "patients.csv"
    path.write_bytes(content)
    with pytest.raises(InputError, match=expected) as info:
        read_roster(path)
    assert info.value.path == path


def test_a_header_only_of_unknown_names_is_refused(tmp_path: Path) -> None:
    """A file whose first line names none of our columns is not a roster: refused."""
    path = tmp_path / "notes.csv"
    path.write_text("Bonjour,ceci est une note\nligne deux\n", encoding="utf-8")
    with pytest.raises(InputError, match="aucune des colonnes attendues"):
        read_roster(path)


# --- Settings ----------------------------------------------------------------------------------


def configure(tmp_path: Path, settings: str) -> CsvRosterAdapter:
    """A csv_roster adapter configured with `settings` under `[adapters.csv_roster]`."""
    export(tmp_path / "patients.csv", ROWS)
    (tmp_path / "fmt.key").write_bytes(b"")
    path = tmp_path / "fmt.toml"
    path.write_text(
        '[store]\nkey_file = "fmt.key"\n\n[adapters.csv_roster]\n'
        f'roster = "patients.csv"\n{settings}\n',
        encoding="utf-8",
    )
    adapter = CsvRosterAdapter()
    adapter.fmt_configure(load_config(path))
    return adapter


def test_settings_set_the_format(tmp_path: Path) -> None:
    """`delimiter`, `encoding` and `date_format` set by hand read the French export."""
    adapter = configure(
        tmp_path,
        'delimiter = ";"\nencoding = "windows-1252"\ndate_format = "JJ/MM/AAAA"',
    )
    batch = adapter.fmt_roster(as_of=date(2026, 1, 15))
    assert batch is not None
    assert [p.prenom for p in batch.patients] == ["CHRISTIAN", "FRANÇOISE", "NOËL"]


def test_a_forced_iso_date_format_refuses_french_dates(tmp_path: Path) -> None:
    """With `date_format = "AAAA-MM-JJ"`, a JJ/MM/AAAA cell is a bad cell saying so."""
    adapter = configure(tmp_path, 'date_format = "AAAA-MM-JJ"')
    batch = adapter.fmt_roster(as_of=date(2026, 1, 15))
    assert batch is not None
    assert batch.patients == ()
    assert {p.message for p in batch.problems} == {
        "date « date_naissance » invalide, attendu AAAA-MM-JJ"
    }


def test_a_forced_utf8_encoding_refuses_a_windows_1252_file(tmp_path: Path) -> None:
    """With `encoding = "utf-8"`, a cp1252 file raises InputError naming the setting."""
    adapter = configure(tmp_path, 'encoding = "utf-8"')
    with pytest.raises(InputError, match=r"adapters\.csv_roster\.encoding") as info:
        adapter.fmt_roster(as_of=date(2026, 1, 15))
    assert info.value.line == 1  # the header's « Prénom »


def test_iso_8859_15_is_read_when_set(tmp_path: Path) -> None:
    """`encoding = "iso-8859-15"` reads œ where Windows-1252 would read ½."""
    adapter = configure(tmp_path, 'encoding = "iso-8859-15"')
    row = [*ROWS[0][:3], "CŒUR", *ROWS[0][4:]]
    export(tmp_path / "patients.csv", [row], encoding="iso-8859-15")
    batch = adapter.fmt_roster(as_of=date(2026, 1, 15))
    assert batch is not None
    assert batch.patients[0].prenom == "CŒUR"


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ('delimiter = "|"', "adapters.csv_roster.delimiter"),
        ('encoding = "ebcdic"', "adapters.csv_roster.encoding"),
        ('encoding = "utf-16"', "adapters.csv_roster.encoding"),
        ('date_format = "MM/DD/YYYY"', "adapters.csv_roster.date_format"),
        ("delimiter = 1", "adapters.csv_roster.delimiter"),
    ],
)
def test_a_bad_format_setting_names_its_key(
    tmp_path: Path, settings: str, key: str
) -> None:
    """An unknown separator, encoding or date form raises ConfigError naming the key."""
    with pytest.raises(ConfigError) as info:
        configure(tmp_path, settings)
    assert info.value.key == key
    assert info.value.expected


def test_every_documented_column_is_recognised_in_french_spelling() -> None:
    """The French header used here names every roster column."""
    from fmt_plugin.adapters.csv_format import canonical_name

    assert [canonical_name(name) for name in FRENCH_HEADER] == list(ROSTER_COLUMNS)
