"""The TLS client context for MSSanté submission: verify the server, present our certificate.

MSSanté is mutual TLS: the server proves itself with a certificate the configured CA bundle
vouches for (IGC Santé in production), and the practice's mailbox proves itself with its own
client certificate (an IGC Santé ORG/AUTH_CLI software certificate).
"""

from __future__ import annotations

import ssl
from pathlib import Path


class ClientCertificateError(Exception):
    """A certificate file could not be used; `setting` names the key at fault (e.g. `ca_file`)."""

    def __init__(self, setting: str, reason: str) -> None:
        self.setting = setting
        self.reason = reason
        super().__init__(reason)


def client_ssl_context(
    *,
    ca_file: Path,
    client_cert: Path,
    client_key: Path,
    passphrase: str | None = None,
) -> ssl.SSLContext:
    """A TLS ≥ 1.2 client context trusting only `ca_file` and presenting `client_cert`.

    The host name is checked against the server's certificate. Raises
    `ClientCertificateError` naming the setting whose file is unreadable or mismatched.
    """
    # cafile given: only that bundle is trusted, not the system's public CAs, since IGC
    # Santé is the only authority the MSSanté trust space accepts.
    try:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file)
    except (
        OSError,
        ssl.SSLError,
    ) as exc:  # SSLError is an OSError; named for the reader
        raise ClientCertificateError(
            "ca_file",
            f"autorités de certification illisibles dans {ca_file} ({_why(exc)})",
        ) from exc
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(client_cert, client_key, password=passphrase)
    except (OSError, ssl.SSLError) as exc:
        raise ClientCertificateError(
            "client_cert",
            f"certificat client {client_cert} ou clé {client_key} inutilisable, "
            f"ou clé ne correspondant pas au certificat ({_why(exc)})",
        ) from exc
    return context


def _why(exc: OSError) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason)
    return exc.strerror or str(exc)
