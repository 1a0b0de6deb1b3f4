"""`fmt-plugin import` and `quarantine list|replay`, run as a user would, on real files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import PUBLIC_SCENARIO, cli

MESSAGES = PUBLIC_SCENARIO / "messages"
UNKNOWN_PATIENT = MESSAGES / "qx_unknown.hl7"


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """An installation on the scenario roster after `import` of the scenario's folder."""
    folder = tmp_path_factory.mktemp("import")
    init = cli(folder, "init", "inst", "--roster", PUBLIC_SCENARIO / "roster.csv")
    assert init.returncode == 0, init.stderr
    config = folder / "inst" / "fmt.toml"
    result = cli(folder, "--config", config, "import", MESSAGES)
    assert result.returncode == 0, result.stderr
    return folder, config, result.stdout


def test_import_reports_accepted_and_quarantined_counts(imported):
    """Import reports accepted and quarantined counts."""
    _, _, stdout = imported
    assert "10 messages lus dans 10 fichier(s)" in stdout
    assert "intégrés        : 9" in stdout
    assert "en quarantaine  : 1" in stdout


def test_import_summary_gives_the_reason_and_where_the_message_was(imported):
    """Import summary gives the reason and where the message was."""
    _, _, stdout = imported
    assert "patient inconnu du cabinet" in stdout
    assert f"{UNKNOWN_PATIENT}, ligne 1" in stdout


def test_import_summary_names_no_patient(imported):
    """Import summary names no patient."""
    _, _, stdout = imported
    for secret in ("INCONNU", "IVAN", "170027505699894", "GARNIER"):
        assert secret not in stdout


def test_importing_the_same_files_again_counts_duplicates(imported):
    """Importing the same files again counts duplicates."""
    folder, config, _ = imported
    again = cli(folder, "--config", config, "import", MESSAGES / "q06_hba1c.hl7")
    assert again.returncode == 0
    assert "doublons        : 1" in again.stdout
    assert "intégrés        : 0" in again.stdout


def test_quarantine_list_shows_the_message_and_its_reason(imported):
    """Quarantine list shows the message and its reason."""
    folder, config, _ = imported
    listing = cli(folder, "--config", config, "quarantine", "list")
    assert listing.returncode == 0
    assert "1 message en quarantaine" in listing.stdout
    assert "MSH-10 H00047" in listing.stdout
    assert "patient inconnu du cabinet" in listing.stdout


def test_import_of_a_missing_path_is_a_usage_error(tmp_path):
    """Import of a missing path is a usage error."""
    init = cli(tmp_path, "init", "inst", "--roster", PUBLIC_SCENARIO / "roster.csv")
    assert init.returncode == 0
    result = cli(
        tmp_path, "--config", tmp_path / "inst/fmt.toml", "import", tmp_path / "nope"
    )
    assert result.returncode == 1
    assert "nope" in result.stderr
    assert "introuvable" in result.stderr


def test_import_reads_batches_mllp_frames_and_crlf_files(tmp_path):
    """Import reads batches MLLP frames and CRLF files."""
    init = cli(tmp_path, "init", "inst", "--roster", PUBLIC_SCENARIO / "roster.csv")
    assert init.returncode == 0
    one = (MESSAGES / "q06_hba1c.hl7").read_bytes().strip(b"\r")
    two = (MESSAGES / "q06_flu.hl7").read_bytes().strip(b"\r")
    three = (MESSAGES / "q05_glu.hl7").read_bytes().strip(b"\r")
    batch = b"\r".join([b"FHS|^~\\&", b"BHS|^~\\&", one, two, b"BTS|2", b"FTS|1"])
    (tmp_path / "batch.hl7").write_bytes(batch.replace(b"\r", b"\r\n"))
    (tmp_path / "framed.mllp").write_bytes(b"\x0b" + three + b"\x1c\x0d")
    result = cli(
        tmp_path,
        "--config",
        tmp_path / "inst/fmt.toml",
        "import",
        tmp_path / "batch.hl7",
        tmp_path / "framed.mllp",
    )
    assert result.returncode == 0, result.stderr
    assert "3 messages lus dans 2 fichier(s)" in result.stdout
    assert "intégrés        : 3" in result.stdout


def test_replay_after_the_patient_joined_the_roster_integrates_it(tmp_path):
    """Replay after the patient joined the roster integrates it."""
    roster = tmp_path / "roster.csv"
    shutil.copy(PUBLIC_SCENARIO / "roster.csv", roster)
    init = cli(tmp_path, "init", "inst", "--roster", roster)
    assert init.returncode == 0
    config = tmp_path / "inst" / "fmt.toml"
    first = cli(tmp_path, "--config", config, "import", UNKNOWN_PATIENT)
    assert "en quarantaine  : 1" in first.stdout
    still = cli(tmp_path, "--config", config, "quarantine", "replay", "--all")
    assert still.returncode == 1
    assert "toujours en quarantaine" in still.stdout
    with roster.open("a", encoding="utf-8") as out:
        out.write("QX,170027505699894,INCONNU,IVAN,1970-02-02,M,,,,0,,,\n")
    assert cli(tmp_path, "--config", config, "sync").returncode == 0
    replay = cli(tmp_path, "--config", config, "quarantine", "replay", "1")
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "n° 1 : intégré (patient QX, 1 événement(s))" in replay.stdout
    listing = cli(tmp_path, "--config", config, "quarantine", "list")
    assert "Quarantaine vide." in listing.stdout


def test_replay_of_an_id_not_in_quarantine_is_refused(installation, tmp_path):
    """Replay of an id not in quarantine is refused."""
    result = cli(tmp_path, "--config", installation, "quarantine", "replay", "42")
    assert result.returncode == 2
    assert "42" in result.stderr


def test_replay_needs_an_id_or_all(installation, tmp_path):
    """Replay needs an id or all."""
    result = cli(tmp_path, "--config", installation, "quarantine", "replay")
    assert result.returncode == 2


def test_the_progress_bar_redraws_one_line_and_ends_it():
    """On a terminal the import redraws one line in place, then ends it with a newline."""
    import io

    from fmt_plugin.views.hl7_inbox import ProgressLine

    stream = io.StringIO()
    bar = ProgressLine(stream)
    bar(0, 200, 0)
    bar(100, 200, 250)
    bar(100, 200, 250)  # unchanged: not redrawn
    bar(200, 200, 500)
    bar.finish()
    text = stream.getvalue()
    assert text.count("\r") == 3
    assert "50,0 %" in text
    assert "100,0 %" in text
    assert text.endswith("500 messages\n")
