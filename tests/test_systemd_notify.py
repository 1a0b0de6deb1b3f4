"""sd_notify: READY=1 once serve accepts messages, STOPPING=1 at SIGTERM, on a real socket."""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from service_process import start_server

from fmt_plugin.systemd import NOTIFY_SOCKET_ENV, notify


@pytest.fixture
def notify_socket() -> Iterator[tuple[socket.socket, str]]:
    """A datagram socket standing for systemd's, and its address.

    In a folder of its own with a short name: an AF_UNIX path is limited to 107 bytes,
    which pytest's tmp_path may exceed.
    """
    with tempfile.TemporaryDirectory(prefix="fmt-") as folder:
        path = str(Path(folder) / "notify")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(path)
            sock.settimeout(30)
            yield sock, path


def test_without_systemd_nothing_is_sent(monkeypatch):
    """No NOTIFY_SOCKET: notify does nothing and says so."""
    monkeypatch.delenv(NOTIFY_SOCKET_ENV, raising=False)
    assert notify("READY=1") is False


def test_assignments_go_in_one_datagram_one_per_line(monkeypatch, notify_socket):
    """Several assignments arrive as one datagram, newline separated."""
    sock, address = notify_socket
    monkeypatch.setenv(NOTIFY_SOCKET_ENV, address)
    assert notify("READY=1", "STATUS=prêt") is True
    assert sock.recv(4096).decode() == "READY=1\nSTATUS=prêt"


def test_an_abstract_socket_address_is_understood(monkeypatch):
    """`@name` is Linux's abstract namespace (what systemd uses in containers)."""
    name = f"fmt-notify-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(10)
        monkeypatch.setenv(NOTIFY_SOCKET_ENV, "@" + name)
        assert notify("READY=1") is True
        assert sock.recv(4096) == b"READY=1"


def test_an_unreachable_socket_is_a_warning_not_a_failure(monkeypatch, tmp_path):
    """A socket path that does not exist: False, the service carries on."""
    monkeypatch.setenv(NOTIFY_SOCKET_ENV, str(tmp_path / "absent.sock"))
    assert notify("READY=1") is False


@pytest.mark.slow
def test_serve_says_ready_once_listening_and_stopping_at_sigterm(
    scenario_config, tmp_path, notify_socket
):
    """serve sends READY=1 (with its port) after start-up, STOPPING=1 when told to stop."""
    sock, address = notify_socket
    server = start_server(
        scenario_config, tmp_path, extra_env={NOTIFY_SOCKET_ENV: address}
    )
    try:
        ready = sock.recv(4096).decode()
    finally:
        code = server.stop()
    assert ready.splitlines() == ["READY=1", f"STATUS=HL7 sur le port {server.port}"]
    assert sock.recv(4096) == b"STOPPING=1"
    assert code == 0
