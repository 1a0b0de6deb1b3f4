"""A real SMTP server for the MSSanté tests: aiosmtpd over mutual TLS with trustme certificates.

The server requires a client certificate issued by the test CA (`CERT_REQUIRED`), as an
MSSanté operator requires an IGC Santé one. `SmtpServer` binds port 0: aiosmtpd 1.4 cannot
(issue aio-libs/aiosmtpd#388), so its start-up probe is taught the port the system chose.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

HOST = "127.0.0.1"


@dataclass
class Pki:
    """A test CA, the server's certificate, and client certificate files written to `folder`."""

    ca: trustme.CA
    server: trustme.LeafCert
    folder: Path
    ca_file: Path
    client_cert: Path
    client_key: Path

    def server_context(self) -> ssl.SSLContext:
        """TLS ≥ 1.2, the server's certificate, and a client certificate from this CA required."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.server.configure_cert(context)
        self.ca.configure_trust(context)
        context.verify_mode = ssl.CERT_REQUIRED
        return context

    def client_files(self, ca: trustme.CA, name: str) -> tuple[Path, Path]:
        """A client certificate from `ca` (another CA for a stranger), as PEM files."""
        leaf = ca.issue_cert("cabinet.example.org", common_name=name)
        cert = self.folder / f"{name}.pem"
        cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
        key = self.folder / f"{name}.key"
        leaf.private_key_pem.write_to_path(key)
        # A private key others may read is refused at start-up, as in production.
        key.chmod(0o600)
        return cert, key


def make_pki(folder: Path) -> Pki:
    """A fresh PKI whose files live in `folder`."""
    ca = trustme.CA(organization_name="IGC de test")
    server = ca.issue_cert(HOST, "localhost")
    ca_file = folder / "ca.pem"
    ca.cert_pem.write_to_path(ca_file)
    pki = Pki(ca, server, folder, ca_file, folder / "x", folder / "x")
    pki.client_cert, pki.client_key = pki.client_files(ca, "cabinet")
    return pki


@dataclass
class RecordingHandler:
    """An aiosmtpd handler that keeps what it accepts, or answers as it is told to.

    `rcpt_reply` / `data_reply` replace the `250 OK` answers; `drop_after_data` closes
    the connection once the whole message was received, before any answer.
    """

    rcpt_reply: str = "250 OK"
    data_reply: str = "250 OK"
    drop_after_data: bool = False
    received: list[Envelope] = field(default_factory=list)

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if self.rcpt_reply.startswith("250"):
            envelope.rcpt_tos.append(address)
        return self.rcpt_reply

    async def handle_DATA(
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        if self.drop_after_data:
            assert server.transport is not None
            server.transport.abort()
            # aiosmtpd cancels this hook when it sees the connection lost.
            await asyncio.get_running_loop().create_future()
        if self.data_reply.startswith("250"):
            self.received.append(envelope)
        return self.data_reply


class SmtpServer(Controller):
    """aiosmtpd's threaded Controller on an ephemeral port, probing with a client certificate."""

    def __init__(self, handler: RecordingHandler, pki: Pki, **kwargs: object) -> None:
        super().__init__(handler, hostname=HOST, port=0, **kwargs)
        self.pki = pki

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        with ExitStack() as stack:
            sock = stack.enter_context(socket.create_connection((HOST, self.port), 1.0))
            if self.ssl_context:
                client = ssl.create_default_context(cafile=self.pki.ca_file)
                client.load_cert_chain(self.pki.client_cert, self.pki.client_key)
                sock = stack.enter_context(
                    client.wrap_socket(sock, server_hostname=HOST)
                )
            sock.recv(1024)


@contextmanager
def smtp_server(
    pki: Pki, handler: RecordingHandler, *, tls: str = "starttls"
) -> Iterator[SmtpServer]:
    """A running server: implicit TLS, STARTTLS required before MAIL, or `plain` (no TLS)."""
    if tls == "plain":
        server = SmtpServer(handler, pki)
    elif tls == "implicit":
        server = SmtpServer(handler, pki, ssl_context=pki.server_context())
    else:
        server = SmtpServer(
            handler, pki, tls_context=pki.server_context(), require_starttls=True
        )
    server.start()
    try:
        yield server
    finally:
        server.stop()
