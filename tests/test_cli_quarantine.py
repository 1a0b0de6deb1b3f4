"""`quarantine list|discard|replay` on the public scenario's quarantined message, as the practice runs them."""

from __future__ import annotations

import json
import shutil
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest
from conftest import PUBLIC_SCENARIO, raw
from service_process import start_server

from fmt_plugin.installation import open_installation
from fmt_plugin.views.french import local_time, nir

MESSAGES = PUBLIC_SCENARIO / "messages"
UNKNOWN_PATIENT = MESSAGES / "qx_unknown.hl7"
#: What qx_unknown.hl7's PID says (a person the roster does not have).
PID_NAME, PID_BIRTH, PID_INS = "INCONNU IVAN", "02/02/1970", "170027505699894"
#: Parsed by nobody: a segment name in lower case.
UNREADABLE = (
    b"MSH|^~\\&|LAB|BIOLAB|FMT|CABINET|20260620101500||ORU^R01|BAD1|P|2.5\r"
    b"pid|1||170027505699894^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS||INCONNU^IVAN\r"
)


@pytest.fixture
def config(installation: Path, run_cli) -> Path:
    """`init` on the public scenario, `sync`, then `import` of its messages folder."""
    assert run_cli("--config", installation, "sync").returncode == 0
    imported = run_cli("--config", installation, "import", MESSAGES)
    assert imported.returncode == 0, imported.stderr
    assert "en quarantaine  : 1" in imported.stdout
    return installation


def quarantined_id(config: Path) -> int:
    with open_installation(config) as installation:
        (record,) = installation.store.inbox.quarantined()
        return record.message_id


def debug_logging(config: Path) -> None:
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('level = "INFO"', 'level = "DEBUG"'), "utf-8")


# --- list -----------------------------------------------------------------------------------


def test_list_shows_who_the_message_names_as_received_in_pid(run_cli, config):
    """Name, birth date and INS of PID-5, PID-7 and PID-3, with the sender and the reason."""
    listing = run_cli("--config", config, "quarantine", "list")
    assert listing.returncode == 0, listing.stderr
    assert "1 message en quarantaine :" in listing.stdout
    assert (
        f"patient (PID) : {PID_NAME}, né(e) le {PID_BIRTH}, INS {nir(PID_INS)}"
        in listing.stdout
    )
    assert "de LABO^BIOLAB" in listing.stdout
    assert "motif : patient inconnu du cabinet" in listing.stdout


def test_list_gives_the_arrival_in_paris_time(run_cli, config):
    """The arrival reads as the practice's wall clock (JJ/MM/AAAA HH:MM), not UTC."""
    with open_installation(config) as installation:
        (record,) = installation.store.inbox.quarantined()
    arrival = local_time(datetime.fromisoformat(record.received_at))
    listing = run_cli("--config", config, "quarantine", "list").stdout
    assert f"n° {record.message_id}  reçu le {arrival} (import de fichier)" in listing
    assert "UTC" not in listing


def test_the_identity_shown_is_never_logged(run_cli, config):
    """At DEBUG level the listing logs nothing of the PID; it is on stdout only."""
    debug_logging(config)
    listing = run_cli("--config", config, "quarantine", "list")
    assert PID_NAME in listing.stdout
    for secret in ("INCONNU", "IVAN", PID_INS, "19700202", nir(PID_INS)):
        assert secret not in listing.stderr


def test_a_message_that_cannot_be_parsed_shows_identite_illisible(
    run_cli, config, tmp_path
):
    """An unparseable quarantined message is listed with "identité illisible"."""
    (tmp_path / "bad.hl7").write_bytes(UNREADABLE)
    run_cli("--config", config, "import", tmp_path / "bad.hl7")
    listing = run_cli("--config", config, "quarantine", "list")
    assert listing.returncode == 0, listing.stderr
    assert "2 messages en quarantaine :" in listing.stdout
    assert "patient (PID) : identité illisible" in listing.stdout
    assert "MSH-10 BAD1" in listing.stdout


# --- discard --------------------------------------------------------------------------------


def test_a_discarded_message_leaves_the_list_and_is_counted_apart(run_cli, config):
    """After discard, `list` shows it only as a count and the store counts it apart."""
    message_id = quarantined_id(config)
    discard = run_cli("--config", config, "quarantine", "discard", str(message_id))
    assert discard.returncode == 0, discard.stderr
    assert f"Message n° {message_id} écarté" in discard.stdout
    listing = run_cli("--config", config, "quarantine", "list").stdout
    assert "Quarantaine vide." in listing
    assert "1 message écarté en plus" in listing
    assert PID_NAME not in listing
    with open_installation(config) as installation:
        counts = installation.store.inbox.counts()
    assert (counts["quarantined"], counts["discarded"]) == (0, 1)


def test_list_all_shows_discarded_messages_with_when_and_who(run_cli, config):
    """`list --all` shows the discarded message, its PID identity and when it was discarded."""
    message_id = quarantined_id(config)
    run_cli("--config", config, "quarantine", "discard", str(message_id))
    listing = run_cli("--config", config, "quarantine", "list", "--all").stdout
    assert "1 message écarté :" in listing
    assert PID_NAME in listing
    assert "    écarté le " in listing


def test_a_discarded_message_stays_whole_and_encrypted(run_cli, config):
    """The raw message still decrypts to the bytes received, and is not in clear on disk."""
    message_id = quarantined_id(config)
    run_cli("--config", config, "quarantine", "discard", str(message_id))
    with open_installation(config) as installation:
        kept = installation.store.inbox.raw(message_id)
        path = installation.config.store.path
    assert kept == UNKNOWN_PATIENT.read_bytes()
    with raw(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert b"INCONNU" not in path.read_bytes()


def test_discard_is_audited_with_actor_and_ids(run_cli, config):
    """The audit chain holds hl7.discard with the ids, and still verifies."""
    message_id = quarantined_id(config)
    run_cli("--config", config, "quarantine", "discard", str(message_id))
    with raw(config.parent / "fmt.sqlite3") as conn:
        actor, detail = conn.execute(
            "SELECT actor, detail FROM audit_log WHERE action = 'hl7.discard'"
        ).fetchone()
    assert actor.startswith("cli")
    assert detail == f"discarded={message_id}"
    assert run_cli("--config", config, "audit", "verify").returncode == 0


def test_discard_of_an_id_not_in_quarantine_changes_nothing(run_cli, config):
    """An accepted or unknown id is refused, naming it, and the other ids stay waiting."""
    message_id = quarantined_id(config)
    result = run_cli(
        "--config", config, "quarantine", "discard", str(message_id), "1", "999"
    )
    assert result.returncode == 2
    assert "n° 1, n° 999" in result.stderr
    assert quarantined_id(config) == message_id


def test_discarding_twice_is_refused(run_cli, config):
    """A message already discarded cannot be discarded again."""
    message_id = quarantined_id(config)
    args = ("--config", config, "quarantine", "discard", str(message_id))
    assert run_cli(*args).returncode == 0
    again = run_cli(*args)
    assert again.returncode == 2
    assert "déjà écarté" in again.stderr


def test_replay_all_leaves_discarded_messages_alone(run_cli, config):
    """`replay --all` has nothing to replay once the only quarantined message is discarded."""
    message_id = quarantined_id(config)
    run_cli("--config", config, "quarantine", "discard", str(message_id))
    replay = run_cli("--config", config, "quarantine", "replay", "--all")
    assert replay.returncode == 0
    assert "Quarantaine vide : rien à rejouer." in replay.stdout


def test_a_discarded_message_can_still_be_replayed_by_its_id(
    run_cli, tmp_path, public_scenario
):
    """Discarded by mistake: once the patient joins the roster, `replay ID` integrates it."""
    roster = tmp_path / "roster.csv"
    shutil.copy(public_scenario / "roster.csv", roster)
    assert run_cli("init", "inst2", "--roster", roster).returncode == 0
    config = tmp_path / "inst2" / "fmt.toml"
    run_cli("--config", config, "import", UNKNOWN_PATIENT)
    message_id = quarantined_id(config)
    run_cli("--config", config, "quarantine", "discard", str(message_id))
    still = run_cli("--config", config, "quarantine", "replay", str(message_id))
    assert still.returncode == 1
    assert "toujours écarté" in still.stdout
    with roster.open("a", encoding="utf-8") as out:
        out.write("QX,170027505699894,INCONNU,IVAN,1970-02-02,M,,,,0,,,\n")
    assert run_cli("--config", config, "sync").returncode == 0
    replay = run_cli("--config", config, "quarantine", "replay", str(message_id))
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert f"n° {message_id} : intégré (patient QX" in replay.stdout
    with open_installation(config) as installation:
        counts = installation.store.inbox.counts()
        remembered = installation.store.statuses.all()
    assert (counts["accepted"], counts["quarantined"], counts["discarded"]) == (1, 0, 0)
    # Evaluated at once, not at the nightly run: the lists see the replayed results.
    assert remembered.get("QX")


def test_the_status_page_does_not_count_discarded_messages_as_quarantined(
    run_cli, config, tmp_path
):
    """/status: today's discarded message is received, not en_quarantaine, but écarté."""
    run_cli("--config", config, "quarantine", "discard", str(quarantined_id(config)))
    server = start_server(config, tmp_path)
    url = server.status_url + "/status"
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - local http
            today = json.loads(answer.read())["messages"]["aujourd_hui"]
    finally:
        server.stop()
    assert (today["recus"], today["en_quarantaine"], today["ecartes"]) == (10, 0, 1)
