"""The MLLP listener over TLS and mutual TLS, with throwaway CAs from trustme."""

from __future__ import annotations

import asyncio
import logging
import ssl
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from fmt_plugin.errors import ConfigError
from fmt_plugin.mllp import END_BLOCK, START_BLOCK, MllpServer, MllpSettings, frame
from fmt_plugin.mllp.tls import (
    parse_subject,
    peer_subject,
    server_ssl_context,
    subject_allowed,
)

TEST_TIMEOUT_S = 30.0
MESSAGE = b"MSH|^~\\&|LAB||FMT||||ORU^R01|MSG1|P|2.5\rPID|||DUPONT"
ACK = b"ACK " + MESSAGE[:20]


class StubHandler:
    """Answers `ACK ` + the payload's first 20 bytes and records who sent it."""

    def __init__(self) -> None:
        self.peers = []

    async def handle_frame(self, payload, peer):
        self.peers.append(peer)
        return [b"ACK " + payload[:20]]

    def reject_oversize(self, head, peer):
        return b"AR"


@dataclass
class Pki:
    """Files and client contexts of a test PKI."""

    ca: trustme.CA
    cert: Path
    key: Path
    ca_file: Path

    def client_context(self, client: trustme.LeafCert | None = None) -> ssl.SSLContext:
        """A client context trusting this CA, presenting `client`'s certificate if given."""
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        self.ca.configure_trust(context)
        if client is not None:
            client.configure_cert(context)
        return context


@pytest.fixture
def pki(tmp_path) -> Pki:
    ca = trustme.CA(organization_name="CA de test")
    server = ca.issue_cert("127.0.0.1", "localhost")
    cert = tmp_path / "server.pem"
    cert.write_bytes(b"".join(blob.bytes() for blob in server.cert_chain_pems))
    key = tmp_path / "server.key"
    server.private_key_pem.write_to_path(key)
    key.chmod(0o600)  # the mode configuration requires of a private key
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(ca_file)
    return Pki(ca, cert, key, ca_file)


def lab_cert(ca: trustme.CA, name: str = "middleware") -> trustme.LeafCert:
    return ca.issue_cert(
        "lab.example.org",
        common_name=name,
        organization_name="Labo Exemple",
        organization_unit_name="HL7",
    )


def run(coro):
    async def bounded():
        async with asyncio.timeout(TEST_TIMEOUT_S):
            return await coro

    return asyncio.run(bounded())


def tls_settings(pki: Pki, *, mutual: bool = False, **overrides) -> MllpSettings:
    return MllpSettings(
        host="127.0.0.1",
        port=0,
        tls_cert=pki.cert,
        tls_key=pki.key,
        tls_client_ca=pki.ca_file if mutual else None,
        **overrides,
    )


@asynccontextmanager
async def connect(server: MllpServer, context: ssl.SSLContext | None):
    """An MLLP client over TLS (or plain TCP without a context); closed on exit."""
    reader, writer = await asyncio.open_connection(
        server.host, server.port, ssl=context
    )
    try:
        yield reader, writer
    finally:
        writer.close()
        with suppress(OSError):  # the server may have gone first, TLS alert included
            await writer.wait_closed()


async def call(server: MllpServer, context: ssl.SSLContext | None) -> bytes | None:
    """Send MESSAGE and return the ACK payload, or None if the server refused us.

    Refusal shows as a failed handshake, a TLS alert, a reset or an EOF without reply,
    depending on the TLS version and on when the server gave up.
    """
    try:
        async with connect(server, context) as (reader, writer):
            writer.write(frame(MESSAGE))
            await writer.drain()
            data = await reader.readuntil(END_BLOCK)
    except (OSError, asyncio.IncompleteReadError):  # ssl.SSLError is an OSError
        return None
    assert data.startswith(START_BLOCK)
    return data[1 : -len(END_BLOCK)]


@pytest.fixture
def mllp_log(caplog, monkeypatch):
    monkeypatch.setattr(logging.getLogger("fmt_plugin"), "propagate", True)
    caplog.set_level(logging.DEBUG, logger="fmt_plugin.mllp")
    return caplog


def warnings_of(caplog, text):
    return [
        r
        for r in caplog.records
        if r.levelno == logging.WARNING and text in r.getMessage()
    ]


def test_tls_client_trusting_the_ca_gets_acks(pki):
    """Over server-only TLS, a client that trusts the CA is served; no subject is set."""

    async def scenario():
        handler = StubHandler()
        async with MllpServer(handler, tls_settings(pki)) as server:
            assert await call(server, pki.client_context()) == ACK
            assert await call(server, pki.client_context()) == ACK
        assert [p.tls_subject for p in handler.peers] == [None, None]

    run(scenario())


def test_plain_tcp_client_on_a_tls_listener_is_refused(pki, mllp_log):
    """A client speaking MLLP in clear to the TLS port fails the handshake, logged."""

    async def scenario():
        async with MllpServer(StubHandler(), tls_settings(pki)) as server:
            assert await call(server, None) is None
            assert await call(server, pki.client_context()) == ACK
            assert server.refused["tls_handshake"] == 1

    run(scenario())
    assert warnings_of(mllp_log, "TLS handshake with 127.0.0.1")


def test_mutual_tls_client_with_a_ca_certificate_is_served(pki):
    """Under mTLS, a client certificate from the CA is served and its subject is passed on."""

    async def scenario():
        handler = StubHandler()
        settings = tls_settings(pki, mutual=True)
        async with MllpServer(handler, settings) as server:
            context = pki.client_context(lab_cert(pki.ca))
            assert await call(server, context) == ACK
        (peer,) = handler.peers
        assert peer.host == "127.0.0.1"
        assert parse_subject(peer.tls_subject) == parse_subject(
            "CN=middleware,OU=HL7,O=Labo Exemple"
        )

    run(scenario())


def test_mutual_tls_client_without_certificate_is_refused(pki, mllp_log):
    """Under mTLS, a client with no certificate gets no ACK; the server serves on."""

    async def scenario():
        handler = StubHandler()
        async with MllpServer(handler, tls_settings(pki, mutual=True)) as server:
            assert await call(server, pki.client_context()) is None
            assert await call(server, pki.client_context(lab_cert(pki.ca))) == ACK
        assert len(handler.peers) == 1

    run(scenario())
    assert warnings_of(mllp_log, "TLS handshake with 127.0.0.1")
    assert not [r for r in mllp_log.records if r.levelno >= logging.ERROR]


def test_mutual_tls_client_certificate_from_another_ca_is_refused(pki, mllp_log):
    """Under mTLS, a certificate issued by a CA the server does not trust is refused."""

    async def scenario():
        handler = StubHandler()
        stranger = lab_cert(trustme.CA(organization_name="Autre CA"))
        async with MllpServer(handler, tls_settings(pki, mutual=True)) as server:
            assert await call(server, pki.client_context(stranger)) is None
            assert await call(server, pki.client_context(lab_cert(pki.ca))) == ACK
        assert len(handler.peers) == 1

    run(scenario())
    assert warnings_of(mllp_log, "TLS handshake with 127.0.0.1")


def test_allow_list_serves_listed_subjects_only(pki, mllp_log):
    """With an allow-list, a listed subject (any order, spacing) is served, another is not."""

    async def scenario():
        handler = StubHandler()
        settings = tls_settings(
            pki,
            mutual=True,
            tls_client_subjects=("O = Labo Exemple, OU = HL7, CN = middleware",),
        )
        async with MllpServer(handler, settings) as server:
            listed = pki.client_context(lab_cert(pki.ca, "middleware"))
            other = pki.client_context(lab_cert(pki.ca, "intruder"))
            assert await call(server, other) is None
            assert await call(server, listed) == ACK
            assert server.refused["tls_client"] == 1
            assert server.refused["tls_handshake"] == 0
        assert len(handler.peers) == 1

    run(scenario())
    (refusal,) = warnings_of(mllp_log, "refused")
    assert "CN=intruder" in refusal.getMessage()


def test_handshake_that_never_comes_is_timed_out(pki):
    """A TCP client that never starts TLS is closed after the idle timeout."""

    async def scenario():
        settings = tls_settings(pki, idle_timeout_s=0.2)
        async with (
            MllpServer(StubHandler(), settings) as server,
            connect(server, None) as (reader, _),
        ):
            with suppress(ConnectionError):
                assert await reader.read() == b""

    run(scenario())


def test_stop_closes_tls_connections(pki):
    """stop() closes an idle TLS connection and returns."""

    async def scenario():
        server = MllpServer(StubHandler(), tls_settings(pki))
        await server.start()
        async with connect(server, pki.client_context()) as (reader, writer):
            writer.write(frame(MESSAGE))
            assert (await reader.readuntil(END_BLOCK))[1:-2] == ACK
            await server.stop()
            with suppress(OSError):
                assert await reader.read() == b""
        assert server.connections == 0

    run(scenario())


def test_bad_certificate_path_is_a_config_error(pki, tmp_path):
    """A missing certificate file raises ConfigError naming mllp.tls_cert and the file."""
    missing = tmp_path / "absent.pem"
    with pytest.raises(ConfigError) as excinfo:
        MllpServer(StubHandler(), MllpSettings(tls_cert=missing, tls_key=pki.key))
    assert excinfo.value.key == "mllp.tls_cert"
    assert excinfo.value.path == missing


@pytest.mark.parametrize(
    ("broken", "key"),
    [
        ("cert", "mllp.tls_cert"),
        ("key", "mllp.tls_key"),
        ("ca_file", "mllp.tls_client_ca"),
    ],
)
def test_unreadable_tls_files_are_config_errors(pki, tmp_path, broken, key):
    """A file that holds no PEM certificate or key raises ConfigError naming its setting."""
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a PEM file\n")
    files = {"cert": pki.cert, "key": pki.key, "ca_file": pki.ca_file, broken: garbage}
    with pytest.raises(ConfigError) as excinfo:
        server_ssl_context(files["cert"], files["key"], files["ca_file"])
    assert excinfo.value.key == key
    assert excinfo.value.path == garbage


def test_key_not_matching_the_certificate_is_a_config_error(pki, tmp_path):
    """A key of another certificate raises ConfigError naming mllp.tls_key."""
    other = tmp_path / "other.key"
    pki.ca.issue_cert("other.example.org").private_key_pem.write_to_path(other)
    other.chmod(0o600)
    with pytest.raises(ConfigError) as excinfo:
        server_ssl_context(pki.cert, other, None)
    assert excinfo.value.key == "mllp.tls_key"


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"tls_key": None}, "mllp.tls_key"),
        ({"tls_client_subjects": ("CN=x",)}, "mllp.tls_client_subjects"),
        (
            {"tls_client_ca": "ca", "tls_client_subjects": ("no equals sign",)},
            "mllp.tls_client_subjects",
        ),
        (
            {"tls_cert": None, "tls_key": None, "tls_client_ca": "ca"},
            "mllp.tls_client_ca",
        ),
    ],
)
def test_inconsistent_tls_settings_are_config_errors(pki, overrides, key):
    """Half-configured TLS settings raise ConfigError naming the setting at fault."""
    values = {"tls_cert": pki.cert, "tls_key": pki.key, **overrides}
    if values.get("tls_client_ca") == "ca":
        values["tls_client_ca"] = pki.ca_file
    with pytest.raises(ConfigError) as excinfo:
        MllpServer(StubHandler(), MllpSettings(port=0, **values))
    assert excinfo.value.key == key


def test_context_is_tls_1_2_or_later_and_requires_client_certs_with_a_ca(pki):
    """The server context refuses TLS < 1.2 and, with a CA, requires a client certificate."""
    plain = server_ssl_context(pki.cert, pki.key, None)
    mutual = server_ssl_context(pki.cert, pki.key, pki.ca_file)
    assert plain.minimum_version == ssl.TLSVersion.TLSv1_2
    assert plain.verify_mode == ssl.CERT_NONE
    assert mutual.verify_mode == ssl.CERT_REQUIRED


@pytest.mark.parametrize(
    "written",
    [
        "CN=middleware,OU=HL7,O=Labo Exemple",
        "O=Labo Exemple,OU=HL7,CN=middleware",
        "O = Labo Exemple, OU = HL7, CN = middleware",
        "cn=middleware, ou=hl7, o=labo  exemple",
        "commonName=middleware,2.5.4.11=HL7,O=Labo\\20Exemple",
    ],
)
def test_subject_matching_ignores_order_spacing_and_case(written):
    """Subjects match as sets of RDNs, whatever the order, spacing, case or escapes."""
    assert subject_allowed("CN=middleware,OU=HL7,O=Labo Exemple", [written])


@pytest.mark.parametrize(
    "written",
    [
        "CN=middleware,O=Labo Exemple",  # a subset is not the subject
        "CN=middleware,OU=HL7,O=Labo Exemple,C=FR",
        "CN=middleware+OU=HL7,O=Labo Exemple",  # a multi-valued RDN is another name
        "CN=middle*,OU=HL7,O=Labo Exemple",  # no wildcards
        "not a subject",
    ],
)
def test_subject_matching_is_exact_otherwise(written):
    """A subject that differs in its attributes or RDN grouping does not match."""
    assert not subject_allowed("CN=middleware,OU=HL7,O=Labo Exemple", [written])


def test_empty_allow_list_admits_any_client():
    """An empty allow-list admits any (verified) client, even one without a subject."""
    assert subject_allowed("CN=anyone", [])
    assert subject_allowed(None, [])
    assert not subject_allowed(None, ["CN=anyone"])


def test_peer_subject_without_tls_is_none():
    """No SSL object (plain TCP) means no subject."""
    assert peer_subject(None) is None
