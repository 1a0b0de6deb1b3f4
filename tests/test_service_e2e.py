"""The whole product as a practice runs it: `serve` in a subprocess, the EHR over MLLP, MSSanté.

`fmt-plugin serve` on free ports with a temporary installation (the public scenario), the
scenario's messages sent over MLLP by python-hl7's client, `/status` read over HTTP,
`recalls run` delivering to a real SMTP server (aiosmtpd, mutual TLS), SIGTERM, a restart,
and everything sent again: nothing lost, nothing stored or sent twice.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import PUBLIC_SCENARIO, RunCli
from hl7.client import MLLPClient
from service_process import Server, start_server
from smtp_server import RecordingHandler, SmtpServer, make_pki, smtp_server

AS_OF = "2026-03-15"

pytestmark = pytest.mark.slow


def scenario_messages() -> list[str]:
    return [
        path.read_text(encoding="utf-8")
        for path in sorted((PUBLIC_SCENARIO / "messages").glob("*.hl7"))
    ]


def send_all(server: Server, messages: list[str]) -> list[str]:
    """Each message on one persistent connection; the MSA-1 code of each ACK, in order."""
    codes = []
    with MLLPClient(server.host, server.port) as client:
        client.socket.settimeout(30)
        for message in messages:
            ack = client.send_message(message).decode("utf-8")
            msa = re.search(r"MSA\|([A-Z]{2})\|", ack)
            assert msa is not None, "an answer without MSA"
            codes.append(msa.group(1))
    return codes


def status_of(server: Server) -> dict[str, Any]:
    url = server.status_url + "/status"
    with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - our http URL
        assert answer.status == 200
        body: dict[str, Any] = json.loads(answer.read())
    return body


@pytest.fixture
def mssante(tmp_path: Path) -> Iterator[tuple[SmtpServer, RecordingHandler]]:
    pki = make_pki(tmp_path)
    handler = RecordingHandler()
    with smtp_server(pki, handler) as server:
        yield server, handler


@pytest.fixture
def practice(scenario_config: Path, mssante, tmp_path: Path) -> Path:
    """The public scenario installed by `init`, with MSSanté first and the file outbox after."""
    server, _ = mssante
    pki = server.pki
    with scenario_config.open("a", encoding="utf-8") as toml:
        toml.write(
            "\n[channels.mssante]\n"
            'host = "127.0.0.1"\n'
            f"port = {server.port}\n"
            'sender = "cabinet.tilleuls@medecin.mssante.fr"\n'
            f'client_cert = "{pki.client_cert}"\n'
            f'client_key = "{pki.client_key}"\n'
            f'ca_file = "{pki.ca_file}"\n'
        )
    return scenario_config


def outbox_files(practice: Path) -> set[str]:
    return {path.name for path in (practice.parent / "outbox").glob("*.eml")}


def test_messages_and_recalls_survive_a_restart_without_loss_or_double_send(
    practice: Path, mssante, run_cli: RunCli, tmp_path: Path
):
    """Scenario over MLLP, recalls over MSSanté, SIGTERM, restart, everything again: no change."""
    _, smtp = mssante
    messages = scenario_messages()

    server = start_server(practice, tmp_path)
    try:
        codes = send_all(server, messages)
        first_status = status_of(server)
        report_before = run_cli(
            "--config", practice, "report", "--as-of", AS_OF, "--format", "json"
        )
        recalls = run_cli("--config", practice, "recalls", "run", "--as-of", AS_OF)
        after_recalls = status_of(server)
    finally:
        assert server.stop() == 0, "".join(server.lines)

    # Enhanced mode (MSH-15 AL): commit accept once stored; CE for the patient not on the
    # roster (qx_unknown.hl7, the last file), kept in quarantine.
    assert codes == ["CA"] * (len(messages) - 1) + ["CE"]
    today = first_status["messages"]["aujourd_hui"]
    assert (today["recus"], today["integres"], today["en_quarantaine"]) == (
        len(messages),
        len(messages) - 1,
        1,
    )
    assert recalls.returncode == 0, recalls.stderr
    sent_by_mail = len(smtp.received)
    files = outbox_files(practice)
    assert sent_by_mail > 0, "no patient of the scenario reached over MSSanté"
    assert after_recalls["rappels"]["sent"] == sent_by_mail + len(files)
    assert after_recalls["rappels"]["planned"] == 0

    again = start_server(practice, tmp_path)
    try:
        restarted_status = status_of(again)
        resent_codes = send_all(again, messages)
        tally = status_of(again)["messages"]["depuis_demarrage"]
        recalls_again = run_cli(
            "--config", practice, "recalls", "run", "--as-of", AS_OF
        )
        report_after = run_cli(
            "--config", practice, "report", "--as-of", AS_OF, "--format", "json"
        )
    finally:
        assert again.stop() == 0, "".join(again.lines)

    # Nothing lost: what was stored before the restart is all there.
    assert restarted_status["messages"]["aujourd_hui"] == today
    assert restarted_status["rappels"] == after_recalls["rappels"]
    assert json.loads(report_after.stdout) == json.loads(report_before.stdout)
    # Nothing twice: resent messages are answered as before and stored once...
    assert resent_codes == codes
    assert tally == {"duplicate": len(messages)}
    # ...and a second recall run sends nothing.
    assert recalls_again.returncode == 0, recalls_again.stderr
    assert len(smtp.received) == sent_by_mail
    assert outbox_files(practice) == files
    message_ids = [envelope.original_content for envelope in smtp.received]
    assert len(set(message_ids)) == len(message_ids)
