"""Recalls of a real installation delivered to a real MSSanté server (aiosmtpd, mutual TLS)."""

from __future__ import annotations

import email
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from smtp_server import RecordingHandler, make_pki, smtp_server

from fmt_plugin.installation import open_installation
from fmt_plugin.recalls import jobs
from fmt_plugin.recalls.model import RecallState
from fmt_plugin.timezone import PARIS

MONDAY = datetime(2026, 3, 16, 9, 30, tzinfo=PARIS)


@pytest.fixture
def config(scenario_config: Path) -> Path:
    return scenario_config


def _with_mssante(config: Path, pki, port: int) -> None:
    with config.open("a", encoding="utf-8") as toml:
        toml.write(
            "\n[channels.mssante]\n"
            'host = "127.0.0.1"\n'
            f"port = {port}\n"
            'sender = "cabinet.tilleuls@medecin.mssante.fr"\n'
            f'client_cert = "{pki.client_cert}"\n'
            f'client_key = "{pki.client_key}"\n'
            f'ca_file = "{pki.ca_file}"\n'
        )


def _entries(config: Path):
    with open_installation(config) as installation:
        return installation.store.outbox.entries()


def test_a_4xx_then_success_sends_each_recall_once(config: Path, tmp_path: Path):
    """451 on the first run, accepted on the retry: every recall received exactly once."""
    pki = make_pki(tmp_path)
    handler = RecordingHandler(data_reply="451 4.3.0 Réessayez plus tard")
    with smtp_server(pki, handler) as server:
        _with_mssante(config, pki, server.port)
        queued = jobs.run_planning(config, MONDAY)
        first = jobs.run_delivery(config, MONDAY)
        assert first is not None
        assert first.failed == len(queued)
        handler.data_reply = "250 OK"
        too_early = jobs.run_delivery(config, MONDAY + timedelta(minutes=1))
        assert too_early is not None
        assert too_early.total == 0
        retried = jobs.run_delivery(config, MONDAY + timedelta(minutes=6))
        again = jobs.run_delivery(config, MONDAY + timedelta(minutes=60))
    assert retried is not None
    assert retried.sent == len(queued)
    assert again is not None
    assert again.total == 0
    ids = [
        email.message_from_bytes(e.original_content)["Message-ID"]
        for e in handler.received
    ]
    assert len(ids) == len(set(ids)) == len(queued)
    assert {(e.state, e.channel, e.attempts) for e in _entries(config)} == {
        (RecallState.SENT, "mssante", 2)
    }


def test_a_5xx_moves_the_recall_to_the_next_channel(config: Path, tmp_path: Path):
    """550 from the MSSanté server: the file outbox, next in line, takes every recall."""
    pki = make_pki(tmp_path)
    handler = RecordingHandler(data_reply="550 5.1.1 Boîte aux lettres fermée")
    with smtp_server(pki, handler) as server:
        _with_mssante(config, pki, server.port)
        queued = jobs.run_planning(config, MONDAY)
        report = jobs.run_delivery(config, MONDAY)
    assert report is not None
    assert report.sent == len(queued)
    assert handler.received == []
    entries = _entries(config)
    assert {(e.state, e.channel) for e in entries} == {(RecallState.SENT, "file")}
    assert all(e.rejected_channels == ("mssante",) for e in entries)
    assert len(list((config.parent / "outbox").glob("*.eml"))) == len(queued)
