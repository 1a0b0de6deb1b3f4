"""Tests of the built-in CSV roster adapter (`fmt_plugin.adapters.csv_roster`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pluggy
import pytest

import fmt_plugin.hooks.specs
from fmt_plugin import __version__
from fmt_plugin.adapters.csv_roster import (
    ROSTER_COLUMNS,
    CsvRosterAdapter,
    read_acts,
    read_roster,
)
from fmt_plugin.config import FmtConfig, load_config
from fmt_plugin.errors import ConfigError, InputError
from fmt_plugin.hooks import PROJECT_NAME
from fmt_plugin.model import Act, Patient, RowProblem

ROSTER_HEADER = ",".join(ROSTER_COLUMNS)
ACTS_HEADER = "patient_id,date,system,code"
BASE_ROW = {
    "patient_id": "Q01",
    "ins": "125120905620191",
    "nom": "AUGUSTE",
    "prenom": "CHRISTIAN",
    "date_naissance": "2025-12-01",
    "sexe": "M",
    "ald": "",
    "conditions": "",
    "flags": "",
    "opposition": "0",
    "mssante": "",
    "email": "",
    "telephone": "",
}
OTHER_ROW = "Q02,114010905620265,DESCOMBES,FRANCK,2014-01-20,M,,,,0,,,"


def roster_row(**cells: str) -> str:
    """A roster line: BASE_ROW with `cells` replaced."""
    return ",".join({**BASE_ROW, **cells}[name] for name in ROSTER_COLUMNS)


def write(path: Path, *lines: str) -> Path:
    """Write `lines` to `path` as UTF-8, one per line, and return `path`."""
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def ids(patients: list[Patient]) -> list[str]:
    return [patient.patient_id for patient in patients]


def only(problems: list[RowProblem]) -> RowProblem:
    assert len(problems) == 1, problems
    return problems[0]


# --- The public scenario ----------------------------------------------------------------------


@pytest.fixture
def public_roster(tmp_path: Path, public_scenario: Path) -> Path:
    """A copy of the scenario's roster that a test may rewrite."""
    path = tmp_path / "roster.csv"
    path.write_bytes((public_scenario / "roster.csv").read_bytes())
    return path


@pytest.fixture
def public_acts(tmp_path: Path, public_scenario: Path) -> Path:
    """A copy of the scenario's acts that a test may rewrite."""
    path = tmp_path / "acts.csv"
    path.write_bytes((public_scenario / "acts.csv").read_bytes())
    return path


def test_public_roster_parses_without_problems(public_roster: Path) -> None:
    """The public scenario roster gives its 8 patients and no problem."""
    patients, problems = read_roster(public_roster)
    assert ids(patients) == [f"Q0{n}" for n in range(1, 9)]
    assert problems == []


def test_public_roster_maps_every_field(public_roster: Path) -> None:
    """A roster record becomes a Patient with typed fields and empty optionals as None."""
    patient = read_roster(public_roster)[0][3]
    assert (patient.patient_id, patient.source, patient.ins) == (
        "Q04",
        "csv_roster",
        "297110905620483",
    )
    assert (patient.nom, patient.prenom) == ("NICOLE", "MARIE")
    assert (patient.birth_date, patient.sex) == (date(1997, 11, 30), "F")
    assert patient.opposition is False
    assert (patient.mssante, patient.email, patient.telephone) == (None, None, None)


def test_public_roster_ald_list(public_roster: Path) -> None:
    """Q06's `8;13` gives the ALD set {8, 13}."""
    assert read_roster(public_roster)[0][5].ald == {8, 13}


def test_public_roster_conditions(public_roster: Path) -> None:
    """Q07's conditions are {"I10"}."""
    assert read_roster(public_roster)[0][6].conditions == {"I10"}


def test_public_roster_flags(public_roster: Path) -> None:
    """Q08's flags are risk:grippe and risk:covid."""
    assert read_roster(public_roster)[0][7].flags == {"risk:grippe", "risk:covid"}


def test_public_acts_parse_without_problems(public_acts: Path) -> None:
    """The public scenario acts give 2 acts and no problem."""
    acts, problems = read_acts(public_acts, {f"Q0{n}" for n in range(1, 9)})
    assert acts == [
        Act("Q01", date(2025, 12, 9), "NGAP", "COE", source="csv_roster"),
        Act("Q07", date(2025, 2, 1), "CCAM", "QEQK004", source="csv_roster"),
    ]
    assert problems == []


# --- Values and normalisation -------------------------------------------------------------------


def test_optional_contacts_are_kept(tmp_path: Path) -> None:
    """Non-empty mssante, email and telephone are kept as given."""
    row = roster_row(
        mssante="a@patient.mssante.fr", email="a@b.fr", telephone="0600000000"
    )
    patient = only_patient(write(tmp_path / "r.csv", ROSTER_HEADER, row))
    assert (patient.mssante, patient.email, patient.telephone) == (
        "a@patient.mssante.fr",
        "a@b.fr",
        "0600000000",
    )


def test_empty_ins_means_unqualified_identity(tmp_path: Path) -> None:
    """An empty INS cell gives `ins=None`, not a problem."""
    path = write(tmp_path / "r.csv", ROSTER_HEADER, roster_row(ins=""))
    assert only_patient(path).ins is None


def test_opposition_one_is_true(tmp_path: Path) -> None:
    """`opposition` 1 gives True."""
    path = write(tmp_path / "r.csv", ROSTER_HEADER, roster_row(opposition="1"))
    assert only_patient(path).opposition is True


def test_conditions_are_upper_cased_and_dotted(tmp_path: Path) -> None:
    """CIM-10 codes are upper-cased, and ATIH's dotless spelling gets its dot."""
    path = write(
        tmp_path / "r.csv", ROSTER_HEADER, roster_row(conditions="e11.9; Z9071;I10;")
    )
    assert only_patient(path).conditions == {"E11.9", "Z90.71", "I10"}


def test_flags_are_lower_cased(tmp_path: Path) -> None:
    """Flags are lower-cased so that they match the rule pack's names."""
    path = write(tmp_path / "r.csv", ROSTER_HEADER, roster_row(flags="Risk:Grippe;HTA"))
    assert only_patient(path).flags == {"risk:grippe", "hta"}


def test_act_system_and_code_are_upper_cased(tmp_path: Path) -> None:
    """Act systems and codes are upper-cased."""
    path = write(tmp_path / "a.csv", ACTS_HEADER, "Q01,2025-01-02,ccam,qeqk004")
    acts, problems = read_acts(path)
    assert [(act.system, act.code) for act in acts] == [("CCAM", "QEQK004")]
    assert problems == []


def only_patient(path: Path) -> Patient:
    patients, problems = read_roster(path)
    assert problems == []
    assert len(patients) == 1
    return patients[0]


# --- Rejected records ---------------------------------------------------------------------------

BAD_CELLS = [
    pytest.param("patient_id", "", id="empty-patient-id"),
    pytest.param("ins", "125120905620192", id="ins-wrong-key"),
    pytest.param("ins", "12512090562019", id="ins-too-short"),
    pytest.param("date_naissance", "2025-02-30", id="impossible-date"),
    pytest.param("date_naissance", "01/12/25", id="two-digit-year"),
    pytest.param("date_naissance", "12/25/2025", id="month-first-date"),
    pytest.param("date_naissance", "0201-12-01", id="year-out-of-range"),
    pytest.param("date_naissance", "20251201", id="compact-iso-date"),
    pytest.param("date_naissance", "", id="missing-date"),
    pytest.param("sexe", "X", id="bad-sex"),
    pytest.param("ald", "33", id="ald-out-of-range"),
    pytest.param("ald", "8;huit", id="ald-not-a-number"),
    pytest.param("ald", "0", id="ald-zero"),
    pytest.param("conditions", "E1", id="bad-cim10"),
    pytest.param("flags", "risk grippe", id="flag-with-space"),
    pytest.param("opposition", "2", id="bad-opposition"),
    pytest.param("opposition", "", id="empty-opposition"),
]


@pytest.mark.parametrize(("column", "value"), BAD_CELLS)
def test_bad_cell_rejects_row_and_keeps_others(
    tmp_path: Path, column: str, value: str
) -> None:
    """A bad cell gives one problem at its line and column; the next row is still read."""
    path = write(
        tmp_path / "r.csv", ROSTER_HEADER, roster_row(**{column: value}), OTHER_ROW
    )
    patients, problems = read_roster(path)
    assert ids(patients) == ["Q02"]
    problem = only(problems)
    assert (problem.source, problem.path, problem.line, problem.column) == (
        "csv_roster",
        path,
        2,
        column,
    )


def test_every_bad_cell_of_a_row_is_reported(tmp_path: Path) -> None:
    """A row with several bad cells gets one problem per cell, so all are fixed at once."""
    row = roster_row(sexe="X", opposition="2", date_naissance="hier")
    _, problems = read_roster(write(tmp_path / "r.csv", ROSTER_HEADER, row))
    assert [p.column for p in problems] == ["date_naissance", "sexe", "opposition"]


def test_date_message_names_column_and_format(tmp_path: Path) -> None:
    """A bad birth date's message names the column and the expected format."""
    row = roster_row(date_naissance="2025-13-01")
    _, problems = read_roster(write(tmp_path / "r.csv", ROSTER_HEADER, row))
    assert only(problems).message == (
        "date « date_naissance » invalide, attendu JJ/MM/AAAA ou AAAA-MM-JJ"
    )


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("ins", "125120905620192"),
        ("date_naissance", "1999-02-30"),
        ("ald", "99"),
        ("conditions", "ZZZ9"),
        ("flags", "risk grippe"),
    ],
)
def test_problem_never_quotes_identity_value(
    tmp_path: Path, column: str, value: str
) -> None:
    """Neither the message nor str() of a problem contains the rejected identity value."""
    path = write(tmp_path / "r.csv", ROSTER_HEADER, roster_row(**{column: value}))
    problem = only(read_roster(path)[1])
    assert value not in problem.message
    # The file's path is ours, not the patient's: pytest's folder (`pytest-299`) may hold
    # the same digits as a short value.
    assert value not in str(problem).replace(str(path), "")


def test_wrong_number_of_fields(tmp_path: Path) -> None:
    """A row with an extra non-empty field gives a problem at its line without a column."""
    path = write(tmp_path / "r.csv", ROSTER_HEADER, OTHER_ROW, roster_row() + ",X")
    patients, problems = read_roster(path)
    assert ids(patients) == ["Q02"]
    problem = only(problems)
    assert (problem.line, problem.column) == (3, None)
    assert problem.message == "14 champs au lieu de 13 ; ligne ignorée"


def test_duplicate_patient_id_keeps_first(tmp_path: Path) -> None:
    """A second row with the same patient id is rejected, naming the first one's line."""
    second = roster_row(ins="189050905620342")
    path = write(tmp_path / "r.csv", ROSTER_HEADER, roster_row(), OTHER_ROW, second)
    patients, problems = read_roster(path)
    assert ids(patients) == ["Q01", "Q02"]
    problem = only(problems)
    assert (problem.line, problem.column) == (4, "patient_id")
    assert "ligne 2" in problem.message


def test_duplicate_ins_keeps_first(tmp_path: Path) -> None:
    """A second patient with the same INS is rejected without the INS in the message."""
    twin = roster_row(patient_id="Q09")
    path = write(tmp_path / "r.csv", ROSTER_HEADER, roster_row(), twin, OTHER_ROW)
    patients, problems = read_roster(path)
    assert ids(patients) == ["Q01", "Q02"]
    problem = only(problems)
    assert (problem.line, problem.column) == (3, "ins")
    assert "Q01" in problem.message
    assert BASE_ROW["ins"] not in str(problem)


def test_line_numbers_are_physical_lines(tmp_path: Path) -> None:
    """A quoted cell spanning two lines shifts the following rows' line numbers."""
    multiline = roster_row(nom='"AU\nGUSTE"')
    bad = OTHER_ROW.replace(",M,", ",X,")
    patients, problems = read_roster(
        write(tmp_path / "r.csv", ROSTER_HEADER, multiline, bad)
    )
    assert ids(patients) == ["Q01"]
    assert only(problems).line == 4


def test_blank_lines_are_ignored(tmp_path: Path) -> None:
    """Blank lines, trailing or not, are neither records nor problems."""
    path = write(tmp_path / "r.csv", ROSTER_HEADER, roster_row(), "", OTHER_ROW, "", "")
    patients, problems = read_roster(path)
    assert ids(patients) == ["Q01", "Q02"]
    assert problems == []


def test_act_for_unknown_patient(tmp_path: Path) -> None:
    """An act of a patient id absent from the roster is rejected at its line."""
    path = write(
        tmp_path / "a.csv",
        ACTS_HEADER,
        "Q99,2025-01-02,CCAM,X",
        "Q01,2025-01-02,NGAP,G",
    )
    acts, problems = read_acts(path, {"Q01"})
    assert [act.patient_id for act in acts] == ["Q01"]
    problem = only(problems)
    assert (problem.line, problem.column) == (2, "patient_id")


def test_unknown_patients_accepted_without_roster(tmp_path: Path) -> None:
    """Without `known_patients`, acts of any patient id are kept."""
    path = write(tmp_path / "a.csv", ACTS_HEADER, "Q99,2025-01-02,CCAM,X")
    acts, problems = read_acts(path)
    assert [act.patient_id for act in acts] == ["Q99"]
    assert problems == []


@pytest.mark.parametrize(
    ("row", "column"),
    [
        pytest.param("Q01,2025-01-02,SNOMED,X", "system", id="unknown-system"),
        pytest.param("Q01,32/01/2025,CCAM,X", "date", id="bad-date"),
        pytest.param(",2025-01-02,CCAM,X", "patient_id", id="empty-patient-id"),
        pytest.param("Q01,2025-01-02,CCAM,", "code", id="empty-code"),
    ],
)
def test_bad_act_rejects_row_and_keeps_others(
    tmp_path: Path, row: str, column: str
) -> None:
    """A bad act cell gives one problem at its line and column; the next act is kept."""
    path = write(tmp_path / "a.csv", ACTS_HEADER, row, "Q01,2025-01-03,NGAP,G")
    acts, problems = read_acts(path)
    assert [act.code for act in acts] == ["G"]
    problem = only(problems)
    assert (problem.line, problem.column) == (2, column)


# --- Header and encoding ------------------------------------------------------------------------


def test_header_missing_column_makes_file_unusable(tmp_path: Path) -> None:
    """A header without `sexe` raises InputError at line 1 naming the column."""
    header = ROSTER_HEADER.replace(",sexe", "")
    row = roster_row().replace(",M,", ",")
    path = write(tmp_path / "r.csv", header, row)
    with pytest.raises(InputError) as info:
        read_roster(path)
    assert (info.value.path, info.value.line, info.value.column) == (path, 1, "sexe")
    assert "colonnes absentes de l'en-tête : sexe" in str(info.value)


def test_file_without_header_quotes_no_cell(tmp_path: Path) -> None:
    """A roster exported without its header is refused without quoting its first row."""
    path = write(tmp_path / "r.csv", roster_row(), OTHER_ROW)
    with pytest.raises(InputError) as info:
        read_roster(path)
    assert "la première ligne doit être l'en-tête" in str(info.value)
    for value in ("AUGUSTE", "CHRISTIAN", "125120905620191", "2025-12-01"):
        assert value not in str(info.value)


def test_unknown_column_is_reported_and_ignored(tmp_path: Path) -> None:
    """An extra column gives a problem at line 1 naming it; the rows are still read."""
    path = write(tmp_path / "r.csv", ROSTER_HEADER + ",medecin", roster_row() + ",DR X")
    patients, problems = read_roster(path)
    assert ids(patients) == ["Q01"]
    problem = only(problems)
    assert (problem.line, problem.column) == (1, "medecin")
    assert problem.message == "colonne inconnue « medecin » ignorée"


def test_duplicate_column_makes_file_unusable(tmp_path: Path) -> None:
    """A header naming a column twice is refused: which cell to use is ambiguous."""
    path = write(tmp_path / "r.csv", ROSTER_HEADER + ",nom", roster_row() + ",X")
    with pytest.raises(InputError) as info:
        read_roster(path)
    assert info.value.column == "nom"


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    """An empty roster raises InputError at line 1 rather than giving no patient."""
    path = tmp_path / "r.csv"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="fichier vide") as info:
        read_roster(path)
    assert info.value.line == 1


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    """A UTF-8 BOM before the header (Excel's export) is skipped."""
    path = tmp_path / "r.csv"
    path.write_bytes(b"\xef\xbb\xbf" + f"{ROSTER_HEADER}\n{roster_row()}\n".encode())
    assert ids(read_roster(path)[0]) == ["Q01"]


def test_latin1_file_is_read_as_windows_1252(tmp_path: Path) -> None:
    """A file that is not UTF-8 is read in Windows-1252, Latin-1's printable superset."""
    path = tmp_path / "r.csv"
    text = f"{ROSTER_HEADER}\n{OTHER_ROW}\n{roster_row(nom='DÉSIRÉ')}\n"
    path.write_bytes(text.encode("latin-1"))
    patients, problems = read_roster(path)
    assert [p.nom for p in patients] == ["DESCOMBES", "DÉSIRÉ"]
    assert problems == []


def test_bytes_neither_utf8_nor_windows_1252_raise_input_error(tmp_path: Path) -> None:
    """A byte Windows-1252 leaves undefined raises InputError naming the file and line."""
    path = tmp_path / "r.csv"
    text = f"{ROSTER_HEADER}\n{OTHER_ROW}\n{roster_row(nom='DÉSIRÉ')}\n"
    path.write_bytes(text.encode("latin-1").replace("É".encode("latin-1"), b"\x81"))
    with pytest.raises(InputError) as info:
        read_roster(path)
    assert (info.value.path, info.value.line) == (path, 3)
    assert "encoding" in str(info.value)
    assert "DÉSIR" not in str(info.value)


def test_missing_file_raises_input_error(tmp_path: Path) -> None:
    """A file that cannot be opened raises InputError naming it."""
    path = tmp_path / "absent.csv"
    with pytest.raises(InputError, match=r"absent\.csv"):
        read_acts(path)


# --- Through the hooks --------------------------------------------------------------------------


@pytest.fixture
def pm() -> Iterator[pluggy.PluginManager]:
    manager = pluggy.PluginManager(PROJECT_NAME)
    manager.add_hookspecs(fmt_plugin.hooks.specs)
    adapter = CsvRosterAdapter()
    manager.register(adapter, name=adapter.name)
    manager.check_pending()
    yield manager
    manager.unregister(adapter)


def make_config(tmp_path: Path, adapter_table: str) -> FmtConfig:
    """Load an fmt.toml with a dummy key file and `adapter_table` as its adapters part."""
    (tmp_path / "fmt.key").write_bytes(b"")
    path = tmp_path / "fmt.toml"
    path.write_text(f'[store]\nkey_file = "fmt.key"\n\n{adapter_table}', "utf-8")
    return load_config(path)


@pytest.fixture
def configured(
    pm: pluggy.PluginManager, tmp_path: Path, public_roster: Path, public_acts: Path
) -> pluggy.PluginManager:
    table = '[adapters.csv_roster]\nroster = "roster.csv"\nacts = "acts.csv"\n'
    pm.hook.fmt_configure(config=make_config(tmp_path, table))
    return pm


def test_hook_fmt_adapter_info(pm: pluggy.PluginManager) -> None:
    """The adapter names itself with the package version."""
    (info,) = pm.hook.fmt_adapter_info()
    assert (info.name, info.version) == ("csv_roster", __version__)


def test_hook_fmt_roster(configured: pluggy.PluginManager) -> None:
    """The configured adapter returns one batch with the 8 public patients."""
    (batch,) = configured.hook.fmt_roster(as_of=date(2026, 1, 15))
    assert batch.source == "csv_roster"
    assert len(batch.patients) == 8
    assert batch.problems == ()


def test_hook_fmt_patient_acts(configured: pluggy.PluginManager) -> None:
    """Q07's act is returned for `since=None`."""
    (acts,) = configured.hook.fmt_patient_acts(patient_id="Q07", since=None)
    assert [(act.system, act.code) for act in acts] == [("CCAM", "QEQK004")]


def test_patient_acts_since_excludes_older(configured: pluggy.PluginManager) -> None:
    """Acts before `since` are left out; an act on `since` is kept."""
    hook = configured.hook.fmt_patient_acts
    assert hook(patient_id="Q07", since=date(2025, 2, 2)) == [[]]
    assert len(hook(patient_id="Q07", since=date(2025, 2, 1))[0]) == 1


def test_patient_acts_of_unknown_patient(configured: pluggy.PluginManager) -> None:
    """A patient id absent from the roster gets no answer (None) from this adapter."""
    assert configured.hook.fmt_patient_acts(patient_id="Q99", since=None) == []


def test_patient_acts_follow_reexport(
    configured: pluggy.PluginManager, public_acts: Path
) -> None:
    """A rewritten acts file is read again on the next call."""
    hook = configured.hook.fmt_patient_acts
    assert hook(patient_id="Q02", since=None) == [[]]
    with public_acts.open("a", encoding="utf-8") as fh:
        fh.write("Q02,2025-06-01,NABM,0552\r\n")
    stat = public_acts.stat()
    # Same-second rewrites must be seen too: push mtime forward explicitly.
    os.utime(public_acts, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    (acts,) = hook(patient_id="Q02", since=None)
    assert [act.code for act in acts] == ["0552"]


def test_roster_batch_carries_both_files_problems(
    configured: pluggy.PluginManager, public_roster: Path, public_acts: Path
) -> None:
    """A bad roster row and a bad act both appear in the batch, with their file."""
    with public_roster.open("a", encoding="utf-8") as fh:
        fh.write("Q09,,X,Y,2000-01-01,Z,,,,0,,,\r\n")
    with public_acts.open("a", encoding="utf-8") as fh:
        fh.write("Q01,2025-01-01,SNOMED,1\r\n")
    (batch,) = configured.hook.fmt_roster(as_of=date(2026, 1, 15))
    assert len(batch.patients) == 8
    located = [(p.path.name, p.line, p.column) for p in batch.problems]
    assert located == [("roster.csv", 10, "sexe"), ("acts.csv", 4, "system")]


def test_roster_hook_raises_on_an_unusable_header(
    pm: pluggy.PluginManager, tmp_path: Path
) -> None:
    """A roster whose header lacks a column makes `fmt_roster` raise, not answer empty."""
    write(tmp_path / "roster.csv", "patient_id,nom")
    table = '[adapters.csv_roster]\nroster = "roster.csv"\n'
    pm.hook.fmt_configure(config=make_config(tmp_path, table))
    with pytest.raises(InputError, match="colonnes absentes"):
        pm.hook.fmt_roster(as_of=date(2026, 1, 15))


def test_unconfigured_adapter_is_inactive(
    pm: pluggy.PluginManager, tmp_path: Path
) -> None:
    """Without `[adapters.csv_roster]`, the roster and acts hooks answer None."""
    pm.hook.fmt_configure(config=make_config(tmp_path, ""))
    assert pm.hook.fmt_roster(as_of=date(2026, 1, 15)) == []
    assert pm.hook.fmt_patient_acts(patient_id="Q01", since=None) == []


def test_roster_without_acts_file(
    pm: pluggy.PluginManager, tmp_path: Path, public_roster: Path
) -> None:
    """With only `roster` configured, the roster is served and acts get no answer."""
    pm.hook.fmt_configure(
        config=make_config(tmp_path, '[adapters.csv_roster]\nroster = "roster.csv"\n')
    )
    (batch,) = pm.hook.fmt_roster(as_of=date(2026, 1, 15))
    assert len(batch.patients) == 8
    assert pm.hook.fmt_patient_acts(patient_id="Q07", since=None) == []


def test_unknown_config_key_is_refused(
    pm: pluggy.PluginManager, tmp_path: Path, public_roster: Path
) -> None:
    """An unknown key under `[adapters.csv_roster]` raises ConfigError naming it."""
    table = '[adapters.csv_roster]\nroster = "roster.csv"\nactes = "acts.csv"\n'
    with pytest.raises(ConfigError, match=r"adapters\.csv_roster\.actes"):
        pm.hook.fmt_configure(config=make_config(tmp_path, table))


def test_missing_roster_file_is_refused(
    pm: pluggy.PluginManager, tmp_path: Path
) -> None:
    """A roster path to no file raises ConfigError naming the key."""
    table = '[adapters.csv_roster]\nroster = "absent.csv"\n'
    with pytest.raises(ConfigError, match=r"adapters\.csv_roster\.roster"):
        pm.hook.fmt_configure(config=make_config(tmp_path, table))


def test_roster_key_is_required(pm: pluggy.PluginManager, tmp_path: Path) -> None:
    """A `[adapters.csv_roster]` table without `roster` raises ConfigError naming it."""
    table = '[adapters.csv_roster]\nacts = "acts.csv"\n'
    with pytest.raises(ConfigError, match=r"adapters\.csv_roster\.roster"):
        pm.hook.fmt_configure(config=make_config(tmp_path, table))


def test_roster_directory_is_refused(pm: pluggy.PluginManager, tmp_path: Path) -> None:
    """A roster path naming a directory raises ConfigError naming the key."""
    (tmp_path / "exports").mkdir()
    table = '[adapters.csv_roster]\nroster = "exports"\n'
    with pytest.raises(ConfigError, match=r"adapters\.csv_roster\.roster"):
        pm.hook.fmt_configure(config=make_config(tmp_path, table))
