"""The `[channels.mssante]` settings: server, TLS mode, certificates, sender and headers.

Read once at start-up from a `config.Section`; every file must exist and the client
certificate must load, so a mistake stops start-up with the key at fault instead of turning
every recall into a failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from fmt_plugin import __version__
from fmt_plugin.config import Section
from fmt_plugin.mssante.address import (
    DEFAULT_ADDRESS_TEMPLATE,
    TemplateError,
    check_template,
    is_address,
)
from fmt_plugin.mssante.tls import ClientCertificateError, client_ssl_context
from fmt_plugin.private_mode import check_private_mode

TlsMode = Literal["implicit", "starttls"]

#: Submission ports: 587 with STARTTLS is what the MSSanté operators document; 465 is SMTPS.
DEFAULT_PORTS: dict[TlsMode, int] = {"starttls": 587, "implicit": 465}
_TLS_MODES: dict[str, TlsMode] = {"starttls": "starttls", "implicit": "implicit"}
#: The `X-MSS-NIL` header: the product's reference, on every message (Référentiel #2).
DEFAULT_PRODUCT_REFERENCE = f"fmt-plugin/{__version__}"


@dataclass(frozen=True)
class MssanteSettings:
    """How to submit recalls to the practice's MSSanté operator."""

    host: str
    sender: str
    client_cert: Path
    client_key: Path
    ca_file: Path
    tls: TlsMode = "starttls"
    port: int = DEFAULT_PORTS["starttls"]
    address_template: str = DEFAULT_ADDRESS_TEMPLATE
    timeout_s: float = 30.0
    #: Adds `X-MSS-MES: FIN`, which stops the patient from replying in Mon espace santé.
    reply_blocked: bool = True
    product_reference: str = DEFAULT_PRODUCT_REFERENCE
    client_key_passphrase: str | None = field(default=None, repr=False)


def read_mssante_settings(section: Section) -> MssanteSettings:
    """Validate `[channels.mssante]` and call `section.finish()`; raise `ConfigError` otherwise.

    Also loads the CA bundle and the client certificate once, so that an unreadable file or a
    key that does not match its certificate is reported now, naming its key; a client key
    the group or others may read is refused (`private_mode`).
    """
    tls = _TLS_MODES[section.string("tls", "starttls", choices=tuple(_TLS_MODES))]
    port = section.integer("port", DEFAULT_PORTS[tls], minimum=1, maximum=65535)
    settings = MssanteSettings(
        host=_host(section),
        sender=_sender(section),
        client_cert=section.path("client_cert", must_exist=True),
        client_key=section.path("client_key", must_exist=True),
        ca_file=section.path("ca_file", must_exist=True),
        tls=tls,
        port=port,
        address_template=_template(section),
        timeout_s=section.seconds("timeout_s", 30.0),
        reply_blocked=section.boolean("reply_blocked", True),
        product_reference=_header_value(section, "product_reference"),
        client_key_passphrase=section.secret("client_key_passphrase"),
    )
    section.finish()
    # Before the key is loaded: a key others can read is refused, whether it loads or not.
    check_private_mode(settings.client_key, key=section.dotted("client_key"))
    try:
        client_ssl_context(
            ca_file=settings.ca_file,
            client_cert=settings.client_cert,
            client_key=settings.client_key,
            passphrase=settings.client_key_passphrase,
        )
    except ClientCertificateError as exc:
        raise section.error(exc.setting, exc.reason) from exc
    return settings


def _host(section: Section) -> str:
    host = section.string("host").strip()
    if not host or any(c.isspace() for c in host):
        raise section.error(
            "host", "nom d'hôte invalide", "un nom d'hôte ou une adresse IP"
        )
    return host


def _sender(section: Section) -> str:
    sender = section.string("sender").strip()
    if not is_address(sender):
        raise section.error(
            "sender", "adresse invalide", "la BAL MSSanté du cabinet (nom@domaine.fr)"
        )
    return sender


def _template(section: Section) -> str:
    template = section.string("address_template", DEFAULT_ADDRESS_TEMPLATE)
    try:
        return check_template(template)
    except TemplateError as exc:
        raise section.error(
            "address_template", str(exc), DEFAULT_ADDRESS_TEMPLATE
        ) from exc


def _header_value(section: Section, key: str) -> str:
    value = section.string(key, DEFAULT_PRODUCT_REFERENCE).strip()
    # A header value must be one printable ASCII line, or it would break the message.
    if not value or not value.isascii() or not value.isprintable():
        raise section.error(key, "valeur invalide", "du texte ASCII sur une ligne")
    return value
