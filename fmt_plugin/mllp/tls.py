"""TLS for the MLLP listener: the server's SSL context, the client's subject, the allow-list.

Certificate subjects are compared as sets of RDNs (see `subject_allowed`), so a subject copied
from `openssl x509 -subject` (`C = FR, O = Cabinet, CN = lab`) matches the RFC 4514 string
`CN=lab,O=Cabinet,C=FR` that `peer_subject` returns.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from fmt_plugin.errors import ConfigError

#: A parsed subject: a set of RDNs, each a set of (attribute type, normalised value).
Subject = frozenset[frozenset[tuple[str, str]]]

# Names an administrator may write for the usual attribute types, mapped to their OIDs so that
# `CN`, `cn`, `commonName` and `2.5.4.3` are one type (cryptography prints the OID for the
# types it has no short name for, e.g. serialNumber, while OpenSSL prints a name).
_TYPE_NAMES = {
    "cn": NameOID.COMMON_NAME,
    "commonname": NameOID.COMMON_NAME,
    "c": NameOID.COUNTRY_NAME,
    "countryname": NameOID.COUNTRY_NAME,
    "l": NameOID.LOCALITY_NAME,
    "localityname": NameOID.LOCALITY_NAME,
    "st": NameOID.STATE_OR_PROVINCE_NAME,
    "stateorprovincename": NameOID.STATE_OR_PROVINCE_NAME,
    "street": NameOID.STREET_ADDRESS,
    "streetaddress": NameOID.STREET_ADDRESS,
    "o": NameOID.ORGANIZATION_NAME,
    "organizationname": NameOID.ORGANIZATION_NAME,
    "ou": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "organizationalunitname": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "dc": NameOID.DOMAIN_COMPONENT,
    "domaincomponent": NameOID.DOMAIN_COMPONENT,
    "uid": NameOID.USER_ID,
    "userid": NameOID.USER_ID,
    "serialnumber": NameOID.SERIAL_NUMBER,
    "organizationidentifier": NameOID.ORGANIZATION_IDENTIFIER,
    "emailaddress": NameOID.EMAIL_ADDRESS,
    "title": NameOID.TITLE,
    "sn": NameOID.SURNAME,
    "surname": NameOID.SURNAME,
    "gn": NameOID.GIVEN_NAME,
    "givenname": NameOID.GIVEN_NAME,
}
_OID = re.compile(r"(?:oid\.)?([0-9]+(?:\.[0-9]+)+)")
_HEX = frozenset("0123456789abcdefABCDEF")
_SPACES = re.compile(r"\s+")


def server_ssl_context(cert: Path, key: Path, client_ca: Path | None) -> ssl.SSLContext:
    """A TLS ≥ 1.2 server context for `cert` and `key`; with `client_ca`, mutual TLS.

    With `client_ca`, a client must present a certificate issued by one of its CAs
    (`CERT_REQUIRED`). Each file is checked on its own first, so a `ConfigError` names the
    file and the setting at fault (`mllp.tls_cert`, `mllp.tls_key`, `mllp.tls_client_ca`).
    """
    _check_certificates(cert, "mllp.tls_cert")
    _check_private_key(key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(certfile=cert, keyfile=key)
    except (
        OSError,
        ssl.SSLError,
    ) as exc:  # SSLError is an OSError; named for the reader
        raise ConfigError(
            f"la clé privée ne correspond pas au certificat {cert} ({_reason(exc)})",
            path=key,
            key="mllp.tls_key",
        ) from exc
    if client_ca is not None:
        _check_certificates(client_ca, "mllp.tls_client_ca")
        try:
            context.load_verify_locations(cafile=client_ca)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"autorités de certification inutilisables ({_reason(exc)})",
                path=client_ca,
                key="mllp.tls_client_ca",
            ) from exc
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def peer_subject(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> str | None:
    """The RFC 4514 subject of the peer's certificate, or None without one (or without TLS)."""
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return None
    return x509.load_der_x509_certificate(der).subject.rfc4514_string()


def parse_subject(text: str) -> Subject:
    """Parse a distinguished name written as RFC 4514 (or OpenSSL's `A = b, C = d`).

    Raises ValueError when `text` is not a distinguished name. Normalisation, which is the
    matching rule `subject_allowed` applies:
    - RDN order does not matter (a set), nor the order of attributes in a multi-valued RDN;
    - attribute types are case-insensitive, and a known name equals its OID
      (`CN` = `commonName` = `2.5.4.3`);
    - spaces around `,`, `+` and `=` are ignored; in values, runs of spaces count as one and
      case is ignored (X.520 caseIgnoreMatch, the rule for CN, O, OU…);
    - escapes (`\\,`, `\\2C`, …) are decoded before comparing.
    """
    rdns: set[frozenset[tuple[str, str]]] = set()
    for rdn_text in _split(text, ",;"):
        attributes = set()
        for attribute in _split(rdn_text, "+"):
            type_text, equals, value_text = attribute.partition("=")
            if not equals:
                raise ValueError(f"no '=' in {attribute.strip()!r}")
            attributes.add((_attribute_type(type_text), _attribute_value(value_text)))
        rdns.add(frozenset(attributes))
    if not rdns:
        raise ValueError("empty distinguished name")
    return frozenset(rdns)


def subject_allowed(subject: str | None, allowed: Iterable[str]) -> bool:
    """Whether a client with certificate `subject` may connect, given the allow-list.

    An empty `allowed` admits any client (under mutual TLS, any client whose certificate the
    configured CAs verified). Otherwise the subject must equal one entry as parsed by
    `parse_subject`: same set of RDNs, whatever their order or spacing. Not a prefix or
    wildcard match. An entry that does not parse matches nothing.
    """
    entries = list(allowed)
    if not entries:
        return True
    if subject is None:
        return False
    try:
        parsed = parse_subject(subject)
    except ValueError:
        return False
    for entry in entries:
        try:
            if parse_subject(entry) == parsed:
                return True
        except ValueError:
            continue
    return False


def check_allowed_subjects(allowed: Iterable[str]) -> None:
    """Raise `ConfigError` (key `mllp.tls_client_subjects`) if an entry does not parse."""
    for entry in allowed:
        try:
            parse_subject(entry)
        except ValueError as exc:
            raise ConfigError(
                f"sujet de certificat illisible « {entry} » ({exc})",
                key="mllp.tls_client_subjects",
                expected="un nom distingué RFC 4514, p. ex. « CN=labo,O=Exemple,C=FR »",
            ) from exc


def _check_certificates(path: Path, key: str) -> None:
    data = _read(path, key)
    try:
        x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise ConfigError(
            "aucun certificat PEM lisible dans ce fichier", path=path, key=key
        ) from exc


def _check_private_key(path: Path) -> None:
    data = _read(path, "mllp.tls_key")
    try:
        serialization.load_pem_private_key(data, password=None)
    except (
        TypeError
    ) as exc:  # cryptography's way of saying "encrypted, password needed"
        raise ConfigError(
            "clé privée chiffrée : fournir une clé PEM non chiffrée (fichier protégé)",
            path=path,
            key="mllp.tls_key",
        ) from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ConfigError(
            "aucune clé privée PEM lisible dans ce fichier",
            path=path,
            key="mllp.tls_key",
        ) from exc


def _read(path: Path, key: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"fichier illisible ({exc.strerror or type(exc).__name__})",
            path=path,
            key=key,
        ) from exc


def _reason(exc: OSError) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason or exc.strerror or type(exc).__name__)


def _split(text: str, separators: str) -> list[str]:
    """Split on unescaped separator characters, keeping escapes for `_attribute_value`."""
    parts: list[str] = []
    current: list[str] = []
    chars = iter(text)
    for char in chars:
        if char == "\\":
            current.append(char)
            current.append(next(chars, ""))
        elif char in separators:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    if len(parts) == 1 and not parts[0].strip():
        return []
    return parts


def _attribute_type(text: str) -> str:
    name = text.strip().lower()
    oid = _TYPE_NAMES.get(name)
    if oid is not None:
        return oid.dotted_string
    match = _OID.fullmatch(name)
    if match is None:
        raise ValueError(f"unknown attribute type {text.strip()!r}")
    return match.group(1)


def _attribute_value(text: str) -> str:
    if text.strip().startswith("#"):  # hex-encoded BER: compared as written
        return text.strip().lower()
    # Escapes are decoded before trimming, so an escaped edge space (`\ `) stays whole;
    # edge spaces are insignificant anyway under the matching rule.
    raw = text
    out = bytearray()
    i = 0
    while i < len(raw):
        char = raw[i]
        if char != "\\":
            out += char.encode("utf-8")
            i += 1
            continue
        pair = raw[i + 1 : i + 3]
        if len(pair) == 2 and set(pair) <= _HEX:
            out.append(int(pair, 16))
            i += 3
        elif len(raw) > i + 1:
            out += raw[i + 1].encode("utf-8")
            i += 2
        else:
            raise ValueError("dangling '\\' at the end of a value")
    try:
        value = out.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError("escaped bytes are not UTF-8") from exc
    return _SPACES.sub(" ", value.strip()).casefold()
