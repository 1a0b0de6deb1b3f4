"""`fmt-plugin serve` in a subprocess, fed by third-party MLLP clients over real sockets."""

from __future__ import annotations

import re
import signal
import socket
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime
from pathlib import Path

import pytest
from conftest import PUBLIC_SCENARIO, cli
from hl7.client import MLLPClient
from service_process import Server, start_server


@pytest.fixture
def scenario_installation(tmp_path: Path) -> Path:
    init = cli(tmp_path, "init", "inst", "--roster", PUBLIC_SCENARIO / "roster.csv")
    assert init.returncode == 0, init.stderr
    return tmp_path / "inst" / "fmt.toml"


@pytest.fixture
def server(scenario_installation: Path, tmp_path: Path) -> Iterator[Server]:
    running = start_server(scenario_installation, tmp_path)
    yield running
    running.stop()


def send_all(server: Server, messages: list[str]) -> list[str]:
    """Send each message on one persistent connection (python-hl7's client); the ACKs."""
    acks = []
    with MLLPClient(server.host, server.port) as client:
        client.socket.settimeout(30)
        for message in messages:
            acks.append(client.send_message(message).decode("utf-8"))
    return acks


def msa(ack: str) -> list[str]:
    (line,) = [
        s for s in re.split(r"[\r\n]+", ack) if s.lstrip("\x0b").startswith("MSA")
    ]
    return line.lstrip("\x0b").rstrip("\x1c").split("|")


def stored_control_ids(config: Path) -> set[str]:
    """MSH-10 of every stored message, read as an administrator would (clear column)."""
    store = config.parent / "fmt.sqlite3"
    with closing(sqlite3.connect(store)) as conn:
        return {row[0] for row in conn.execute("SELECT control_id FROM hl7_messages")}


def scenario_messages() -> list[tuple[str, str]]:
    found = []
    for path in sorted((PUBLIC_SCENARIO / "messages").glob("*.hl7")):
        text = path.read_text(encoding="utf-8")
        control_id = text.split("\r")[0].split("|")[9]
        found.append((control_id, text))
    return found


@pytest.mark.slow
def test_the_public_scenario_over_mllp_gets_one_accept_ack_per_message(server):
    """The public scenario over MLLP gets one accept ACK per message."""
    messages = scenario_messages()
    acks = send_all(server, [text for _, text in messages])
    for (control_id, _), ack in zip(messages, acks, strict=True):
        code, echoed = msa(ack)[1:3]
        assert echoed == control_id
        # The scenario asks for enhanced mode (MSH-15 AL): CA once committed.
        assert code == ("CE" if control_id == "H00047" else "CA")


@pytest.mark.slow
def test_messages_received_over_mllp_are_in_the_store(server, scenario_installation):
    """Messages received over MLLP are in the store."""
    messages = scenario_messages()
    send_all(server, [text for _, text in messages])
    assert server.stop() == 0
    assert stored_control_ids(scenario_installation) == {c for c, _ in messages}
    listing = cli(
        scenario_installation.parent,
        "--config",
        scenario_installation,
        "quarantine",
        "list",
    )
    assert "MSH-10 H00047" in listing.stdout


@pytest.mark.slow
def test_a_resent_message_is_acknowledged_again_and_stored_once(
    server, scenario_installation
):
    """A resent message is acknowledged again and stored once."""
    _, text = scenario_messages()[0]
    first, second = send_all(server, [text, text])
    assert msa(first)[1] == msa(second)[1] == "CA"
    server.stop()
    with closing(sqlite3.connect(scenario_installation.parent / "fmt.sqlite3")) as conn:
        assert conn.execute(
            "SELECT count(*), sum(duplicates) FROM hl7_messages"
        ).fetchone() == (1, 1)


@pytest.mark.slow
def test_sigterm_stops_the_service_cleanly(server):
    """SIGTERM stops the service cleanly."""
    assert server.stop() == 0
    assert any("stopped" in line for line in server.lines)


def result_message(control_id: str) -> str:
    segments = [
        (
            "MSH|^~\\&|LABO|BIOLAB|FMT|CABINET|20260620101500||ORU^R01^ORU_R01|"
            f"{control_id}|P|2.5"
        ),
        "PID|1||148080905620659^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS",
        "OBR|1|CMD|" + control_id + "|^BILAN^L|||202509160800",
        "OBX|1|NM|4548-4^HbA1c^LN||7.4|%|||||F|||202509160800",
    ]
    return "\r".join(segments) + "\r"


@pytest.mark.slow
def test_every_acknowledged_message_survives_a_kill_9(scenario_installation, tmp_path):
    """Every acknowledged message survives a kill -9."""
    server = start_server(scenario_installation, tmp_path)
    acknowledged: list[str] = []
    enough = threading.Event()
    failure: list[BaseException] = []

    def stream() -> None:
        try:
            with MLLPClient(server.host, server.port) as client:
                client.socket.settimeout(30)
                for n in range(100_000):
                    control_id = f"K{n:06d}"
                    ack = client.send_message(result_message(control_id))
                    if not ack:
                        return  # the server died before answering: not acknowledged
                    assert msa(ack.decode())[1:3] == ["AA", control_id]
                    acknowledged.append(control_id)
                    if len(acknowledged) == 200:
                        enough.set()
        except OSError:
            return  # connection reset by the kill: expected
        except BaseException as exc:  # noqa: BLE001 -- reported to the test thread
            failure.append(exc)
        finally:
            enough.set()

    sender = threading.Thread(target=stream)
    sender.start()
    assert enough.wait(120)
    server.stop(signal.SIGKILL)  # mid-stream, no chance to clean up
    sender.join(timeout=60)
    assert not failure
    assert len(acknowledged) >= 200
    # Restart: the store opens (WAL recovery) and holds every acknowledged message.
    again = start_server(scenario_installation, tmp_path)
    assert again.stop() == 0
    stored = stored_control_ids(scenario_installation)
    assert set(acknowledged) <= stored


def test_serve_with_a_bad_configuration_exits_with_a_usage_error(tmp_path):
    """Serve with a bad configuration exits with a usage error."""
    config = tmp_path / "fmt.toml"
    config.write_text("[store]\npath = 'x.sqlite3'\nkey_file = 'missing.key'\n")
    result = cli(tmp_path, "--config", config, "serve", "--mllp-port", "0")
    assert result.returncode == 2
    assert "missing.key" in result.stderr


def test_serve_refuses_a_port_already_in_use(scenario_installation, tmp_path):
    """Serve refuses a port already in use."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = cli(
            tmp_path,
            "--config",
            scenario_installation,
            "serve",
            "--mllp-port",
            str(port),
        )
    assert result.returncode != 0
    assert str(port) in result.stderr


@pytest.mark.slow
def test_a_frame_over_the_limit_gets_an_ar_and_the_connection_closes(
    scenario_installation, tmp_path
):
    """A message over `max_message_bytes` is answered AR echoing its MSH-10, then dropped."""
    text = scenario_installation.read_text(encoding="utf-8")
    text = text.replace("max_message_bytes = 16777216", "max_message_bytes = 2048")
    scenario_installation.write_text(text, encoding="utf-8")
    running = start_server(scenario_installation, tmp_path)
    try:
        big = result_message("BIG1").replace("7.4", "7.4" + "0" * 5000)
        with socket.create_connection((running.host, running.port), timeout=30) as sock:
            sock.sendall(b"\x0b" + big.encode() + b"\x1c\r")
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        assert msa(answer.decode())[1:3] == ["AR", "BIG1"]
        assert "BIG1" not in stored_control_ids(scenario_installation)
    finally:
        running.stop()


def test_serve_starts_the_recall_jobs(server, scenario_installation):
    """The service declares its three recall jobs in the job store and logs the next plan."""
    assert any("recall scheduler started" in line for line in server.lines)
    assert server.stop() == 0
    jobstore = scenario_installation.parent / "jobs.sqlite3"
    with closing(sqlite3.connect(jobstore)) as conn:
        ids = {row[0] for row in conn.execute("SELECT id FROM apscheduler_jobs")}
    assert ids == {"recalls-plan", "recalls-deliver", "status-snapshot"}


def test_a_recall_left_sending_by_a_crash_is_uncertain_after_restart(
    scenario_installation, tmp_path
):
    """A recall handed over when the process died is marked uncertain, never re-sent."""
    from fmt_plugin.installation import open_installation
    from fmt_plugin.recalls import jobs
    from fmt_plugin.timezone import PARIS

    monday = datetime(2026, 3, 16, 9, 30, tzinfo=PARIS)
    queued = jobs.run_planning(scenario_installation, monday)
    with open_installation(scenario_installation) as installation:
        installation.store.outbox.mark_sending(queued[0], channel="file", now=monday)
    running = start_server(scenario_installation, tmp_path)
    assert running.stop() == 0
    with open_installation(scenario_installation) as installation:
        entry = installation.store.outbox.get(queued[0])
    assert entry is not None
    assert entry.state == "uncertain"
    assert any("now uncertain" in line for line in running.lines)


@pytest.mark.slow
def test_serve_serves_the_dashboard_log_in_page_beside_the_status_routes(
    server, scenario_installation
):
    """`serve` alone: the French log-in page and /health answer on the same port."""
    import json
    import urllib.request

    base = server.status_url
    with urllib.request.urlopen(base + "/connexion", timeout=10) as answer:  # noqa: S310
        page = answer.read().decode("utf-8")
        assert answer.headers["Content-Security-Policy"].startswith(
            "default-src 'self'"
        )
    assert '<html lang="fr">' in page
    assert "Mot de passe" in page
    with urllib.request.urlopen(base + "/health", timeout=10) as answer:  # noqa: S310
        assert json.loads(answer.read())["etat"] == "ok"
