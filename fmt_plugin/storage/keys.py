"""Key files: generate, load, rotate and permission-check the store's key ring; keys never in repr/logs.

The key file is versioned JSON (never pickle). Its secrets are either stored in clear, relying
on the file's 0600 mode, or sealed with AES-256-GCM under a key derived from a passphrase with
scrypt. Error messages name the file and the faulty field, never a key or the passphrase.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from hashlib import sha256
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from fmt_plugin.errors import KeyFileError
from fmt_plugin.private_files import keep_owner
from fmt_plugin.private_mode import check_private_stat

FORMAT = "fmt-plugin-keyfile"
VERSION = 1
KEY_BYTES = 32
KEY_ID_RE = re.compile(r"^[0-9a-f]{8}$")

PROTECTION_NONE = "none"
PROTECTION_SCRYPT = "scrypt-aes256gcm"
SEAL_AAD = b"fmt-plugin-keyfile/1"
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
NONCE_BYTES = 12
# Bounds on what a key file may ask of scrypt: a tampered file must not make `load`
# allocate gigabytes or spin for minutes before failing.
MAX_SCRYPT_N = 2**20
MAX_SCRYPT_R = 32
MAX_SCRYPT_P = 16
# A genuine key file is a few hundred bytes per key; anything huge is not ours.
MAX_FILE_BYTES = 1 << 20

FINGERPRINT_LABEL = b"fmt-plugin/keyring-fingerprint/1"

T = TypeVar("T")


@dataclass(frozen=True)
class KeyRing:
    """The keys of one store: data keys by id (the primary encrypts), blind-index and audit keys."""

    primary_id: str
    data_keys: Mapping[str, bytes] = field(repr=False)
    index_key: bytes = field(repr=False)
    audit_key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        # A read-only copy, so that a caller's dict cannot change a ring already in use.
        object.__setattr__(self, "data_keys", MappingProxyType(dict(self.data_keys)))
        if self.primary_id not in self.data_keys:
            raise ValueError("primary_id is not one of data_keys")
        for key_id, key in self.data_keys.items():
            if not KEY_ID_RE.match(key_id) or len(key) != KEY_BYTES:
                raise ValueError("data keys need an 8-hex-digit id and 32 bytes")
        if len(self.index_key) != KEY_BYTES or len(self.audit_key) != KEY_BYTES:
            raise ValueError("index_key and audit_key must be 32 bytes")

    @property
    def primary_key(self) -> bytes:
        """The data key that encrypts new values."""
        return self.data_keys[self.primary_id]

    def fingerprint(self) -> str:
        """A hex HMAC of a fixed label under `index_key`: names the ring, reveals no key.

        It survives data-key rotation because the index key never rotates (that would
        invalidate every blind index).
        """
        return hmac.new(self.index_key, FINGERPRINT_LABEL, sha256).hexdigest()


def generate_key_file(path: Path, *, passphrase: str | None = None) -> KeyRing:
    """Create a new key file at `path` (mode 0600) holding fresh random keys, and return them.

    Creates the parent directory (0700) if needed. Refuses to overwrite an existing file.
    On failure no partial file is left behind.
    """
    keyring = _new_keyring()
    document = _document(keyring, passphrase, created=_now())
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        # O_EXCL makes "refuse to overwrite" atomic: no check-then-create race.
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        raise KeyFileError(
            "le fichier de clés existe déjà ; il n'est jamais écrasé", path=path
        ) from None
    except OSError as exc:
        raise KeyFileError(_os_reason("création impossible", exc), path=path) from exc
    _write_and_close(fd, document, path, cleanup=path)
    return keyring


def load_key_file(path: Path, *, passphrase: str | None = None) -> KeyRing:
    """Read and validate the key file at `path`; nothing is written.

    Raises KeyFileError when the file is missing, unreadable, readable or writable by group
    or others, malformed, of another format or version, or when the passphrase is missing or
    wrong. A passphrase given for an unprotected file is ignored.
    """
    document = _read_document(path)
    secrets_doc = _unseal(document, path, passphrase)
    return _keyring_from(document, secrets_doc, path)


def add_data_key(path: Path, *, passphrase: str | None = None) -> KeyRing:
    """Add a fresh data key to the key file at `path` and make it the primary; return the ring.

    Older keys stay in the file so existing ciphertexts still decrypt. The file is rewritten
    atomically (a 0600 temporary file, fsync, rename): on failure the old file is intact.
    """
    document = _read_document(path)
    old = _keyring_from(document, _unseal(document, path, passphrase), path)
    new_id = _new_key_id(exclude=old.data_keys)
    keyring = KeyRing(
        primary_id=new_id,
        data_keys={**old.data_keys, new_id: secrets.token_bytes(KEY_BYTES)},
        index_key=old.index_key,
        audit_key=old.audit_key,
    )
    _replace_file(path, _document(keyring, passphrase, created=_created(document)))
    return keyring


def retire_data_keys(path: Path, *, passphrase: str | None = None) -> KeyRing:
    """Remove every data key but the primary from the key file at `path`; return the ring.

    The caller checks first that no stored value is still under a key removed here: a
    value under a retired key can never be read again. Atomic, like `add_data_key`.
    """
    document = _read_document(path)
    old = _keyring_from(document, _unseal(document, path, passphrase), path)
    keyring = KeyRing(
        primary_id=old.primary_id,
        data_keys={old.primary_id: old.primary_key},
        index_key=old.index_key,
        audit_key=old.audit_key,
    )
    _replace_file(path, _document(keyring, passphrase, created=_created(document)))
    return keyring


def change_passphrase(path: Path, *, current: str | None, new: str | None) -> KeyRing:
    """Seal the key file at `path` under `new` (None: no passphrase, the 0600 mode only).

    `current` unlocks it (ignored when the file has no passphrase). The keys themselves
    do not change, so the store needs nothing. Atomic, like `add_data_key`.
    """
    document = _read_document(path)
    keyring = _keyring_from(document, _unseal(document, path, current), path)
    _replace_file(path, _document(keyring, new, created=_created(document)))
    return keyring


def is_protected(path: Path) -> bool:
    """True when the key file at `path` is sealed by a passphrase (nothing is unsealed)."""
    document = _read_document(path)
    protection = _field(document, "protection", dict, path)
    return protection.get("kind") != PROTECTION_NONE


def _created(document: Mapping[str, Any]) -> str:
    created = document.get("created")
    return created if isinstance(created, str) else _now()


# --- building a key file ---------------------------------------------------------------


def _new_keyring() -> KeyRing:
    key_id = _new_key_id(exclude={})
    return KeyRing(
        primary_id=key_id,
        data_keys={key_id: secrets.token_bytes(KEY_BYTES)},
        index_key=secrets.token_bytes(KEY_BYTES),
        audit_key=secrets.token_bytes(KEY_BYTES),
    )


def _new_key_id(exclude: Mapping[str, bytes]) -> str:
    while True:
        key_id = secrets.token_hex(4)
        if key_id not in exclude:
            return key_id


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _secrets_dict(keyring: KeyRing) -> dict[str, Any]:
    return {
        "data_keys": {kid: _b64(key) for kid, key in keyring.data_keys.items()},
        "index_key": _b64(keyring.index_key),
        "audit_key": _b64(keyring.audit_key),
    }


def _document(
    keyring: KeyRing, passphrase: str | None, *, created: str
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "created": created,
        "primary": keyring.primary_id,
    }
    plain = _secrets_dict(keyring)
    if passphrase is None:
        document["protection"] = {"kind": PROTECTION_NONE}
        document["secrets"] = plain
        return document
    if not passphrase:
        raise KeyFileError("la phrase secrète ne peut pas être vide")
    salt = secrets.token_bytes(SALT_BYTES)
    nonce = secrets.token_bytes(NONCE_BYTES)
    wrapping = _derive(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    payload = json.dumps(plain, sort_keys=True).encode("utf-8")
    sealed = AESGCM(wrapping).encrypt(nonce, payload, SEAL_AAD)
    document["protection"] = {
        "kind": PROTECTION_SCRYPT,
        "salt": _b64(salt),
        "n": SCRYPT_N,
        "r": SCRYPT_R,
        "p": SCRYPT_P,
        "nonce": _b64(nonce),
    }
    document["sealed"] = _b64(sealed)
    return document


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    kdf = Scrypt(salt=salt, length=KEY_BYTES, n=n, r=r, p=p)
    return kdf.derive(passphrase.encode("utf-8"))


# --- writing ---------------------------------------------------------------------------


def _write_and_close(
    fd: int, document: Mapping[str, Any], path: Path, *, cleanup: Path
) -> None:
    """Write `document` to `fd`, fsync and close it; on failure delete `cleanup`."""
    data = (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8")
    try:
        # The umask may have narrowed O_CREAT's mode further; make it exactly 0600.
        os.fchmod(fd, 0o600)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except OSError as exc:
        os.close(fd)
        with contextlib.suppress(OSError):
            cleanup.unlink()
        raise KeyFileError(_os_reason("écriture impossible", exc), path=path) from exc
    os.close(fd)
    _fsync_dir(path.parent)


def _replace_file(path: Path, document: Mapping[str, Any]) -> None:
    try:
        owner = os.stat(path)
    except OSError as exc:
        raise KeyFileError(_os_reason("lecture impossible", exc), path=path) from exc
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except OSError as exc:
        raise KeyFileError(_os_reason("création impossible", exc), path=tmp) from exc
    _keep_owner(fd, owner, tmp)
    _write_and_close(fd, document, tmp, cleanup=tmp)
    try:
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise KeyFileError(
            _os_reason("remplacement impossible", exc), path=path
        ) from exc
    _fsync_dir(path.parent)


def _keep_owner(fd: int, owner: os.stat_result, tmp: Path) -> None:
    try:
        keep_owner(fd, owner)
    except OSError as exc:
        os.close(fd)
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise KeyFileError(
            _os_reason("propriétaire du fichier de clés impossible à garder", exc),
            path=tmp,
        ) from exc


def _fsync_dir(directory: Path) -> None:
    """Persist a directory entry change (new or renamed file) across a power loss."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        # Some platforms cannot open a directory; the file itself is already synced.
        return
    try:
        # idem: fsync on a directory is unsupported on some filesystems.
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def _os_reason(what: str, exc: OSError) -> str:
    return f"{what} ({exc.strerror or type(exc).__name__})"


# --- reading ---------------------------------------------------------------------------


def _read_document(path: Path) -> dict[str, Any]:
    raw = _read_private_file(path)
    try:
        document = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise KeyFileError("le fichier n'est pas du texte UTF-8", path=path) from None
    except json.JSONDecodeError as exc:
        # Position only: the content itself is secret.
        raise KeyFileError(
            f"JSON invalide (ligne {exc.lineno}, colonne {exc.colno})", path=path
        ) from None
    if not isinstance(document, dict):
        raise KeyFileError("JSON invalide", path=path, expected="un objet JSON")
    if document.get("format") != FORMAT:
        raise KeyFileError(
            "ce n'est pas un fichier de clés fmt-plugin",
            path=path,
            key="format",
            expected=FORMAT,
        )
    if document.get("version") != VERSION or isinstance(document.get("version"), bool):
        raise KeyFileError(
            "version de fichier de clés non prise en charge",
            path=path,
            key="version",
            expected=str(VERSION),
        )
    return document


def _read_private_file(path: Path) -> bytes:
    """Read `path` after checking, on the opened descriptor, that only its owner can use it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise KeyFileError("fichier de clés introuvable", path=path) from None
    except OSError as exc:
        raise KeyFileError(_os_reason("lecture impossible", exc), path=path) from exc
    try:
        # fstat on the open descriptor: the file checked is the file read.
        info = os.fstat(fd)
        check_private_stat(info, path, error=KeyFileError)
        if info.st_size > MAX_FILE_BYTES:
            raise KeyFileError("fichier de clés trop volumineux", path=path)
        return _read_all(fd, path)
    finally:
        os.close(fd)


def _read_all(fd: int, path: Path) -> bytes:
    chunks: list[bytes] = []
    total = 0
    try:
        while chunk := os.read(fd, 65536):
            total += len(chunk)
            if total > MAX_FILE_BYTES:
                raise KeyFileError("fichier de clés trop volumineux", path=path)
            chunks.append(chunk)
    except OSError as exc:
        raise KeyFileError(_os_reason("lecture impossible", exc), path=path) from exc
    return b"".join(chunks)


def _unseal(
    document: Mapping[str, Any], path: Path, passphrase: str | None
) -> Mapping[str, Any]:
    protection = _field(document, "protection", dict, path)
    kind = _field(protection, "kind", str, path, prefix="protection.")
    if kind == PROTECTION_NONE:
        result: Mapping[str, Any] = _field(document, "secrets", dict, path)
        return result
    if kind != PROTECTION_SCRYPT:
        raise KeyFileError(
            "protection inconnue",
            path=path,
            key="protection.kind",
            expected=f"{PROTECTION_NONE} ou {PROTECTION_SCRYPT}",
        )
    if not passphrase:
        raise KeyFileError(
            "ce fichier de clés est protégé : la phrase secrète est requise", path=path
        )
    wrapping = _derive(passphrase, *_scrypt_params(protection, path))
    nonce = _b64_field(protection, "nonce", path, NONCE_BYTES, prefix="protection.")
    sealed = _b64_field(document, "sealed", path, None)
    try:
        plain = AESGCM(wrapping).decrypt(nonce, sealed, SEAL_AAD)
    except InvalidTag:
        raise KeyFileError(
            "phrase secrète incorrecte (ou fichier altéré)", path=path
        ) from None
    try:
        inner = json.loads(plain.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise KeyFileError("contenu scellé invalide", path=path, key="sealed") from None
    if not isinstance(inner, dict):
        raise KeyFileError("contenu scellé invalide", path=path, key="sealed")
    return inner


def _scrypt_params(
    protection: Mapping[str, Any], path: Path
) -> tuple[bytes, int, int, int]:
    salt = _b64_field(protection, "salt", path, SALT_BYTES, prefix="protection.")
    n = _int_field(protection, "n", path, MAX_SCRYPT_N)
    r = _int_field(protection, "r", path, MAX_SCRYPT_R)
    p = _int_field(protection, "p", path, MAX_SCRYPT_P)
    if n < 2 or n & (n - 1):
        raise KeyFileError(
            "paramètre scrypt invalide",
            path=path,
            key="protection.n",
            expected="une puissance de 2",
        )
    return salt, n, r, p


def _keyring_from(
    document: Mapping[str, Any], secrets_doc: Mapping[str, Any], path: Path
) -> KeyRing:
    primary = _field(document, "primary", str, path)
    data_doc = _field(secrets_doc, "data_keys", dict, path, prefix="secrets.")
    if not data_doc:
        raise KeyFileError("aucune clé de données", path=path, key="secrets.data_keys")
    data_keys: dict[str, bytes] = {}
    for key_id in data_doc:
        if not isinstance(key_id, str) or not KEY_ID_RE.match(key_id):
            raise KeyFileError(
                "identifiant de clé invalide",
                path=path,
                key="secrets.data_keys",
                expected="8 chiffres hexadécimaux",
            )
        data_keys[key_id] = _b64_field(
            data_doc, key_id, path, KEY_BYTES, prefix="secrets.data_keys."
        )
    if primary not in data_keys:
        raise KeyFileError(
            "la clé primaire n'est pas dans secrets.data_keys", path=path, key="primary"
        )
    return KeyRing(
        primary_id=primary,
        data_keys=data_keys,
        index_key=_b64_field(
            secrets_doc, "index_key", path, KEY_BYTES, prefix="secrets."
        ),
        audit_key=_b64_field(
            secrets_doc, "audit_key", path, KEY_BYTES, prefix="secrets."
        ),
    )


def _field(
    doc: Mapping[str, Any], name: str, kind: type[T], path: Path, *, prefix: str = ""
) -> T:
    if name not in doc:
        raise KeyFileError("champ manquant", path=path, key=prefix + name)
    value = doc[name]
    if not isinstance(value, kind):
        raise KeyFileError(
            "type invalide", path=path, key=prefix + name, expected=kind.__name__
        )
    return value


def _int_field(doc: Mapping[str, Any], name: str, path: Path, maximum: int) -> int:
    value = _field(doc, name, int, path, prefix="protection.")
    if isinstance(value, bool) or not 1 <= value <= maximum:
        raise KeyFileError(
            "paramètre scrypt hors limites",
            path=path,
            key=f"protection.{name}",
            expected=f"un entier entre 1 et {maximum}",
        )
    return value


def _b64_field(
    doc: Mapping[str, Any],
    name: str,
    path: Path,
    length: int | None,
    *,
    prefix: str = "",
) -> bytes:
    text = _field(doc, name, str, path, prefix=prefix)
    try:
        value = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise KeyFileError(
            "base64 invalide", path=path, key=prefix + name, expected="du base64"
        ) from None
    if length is not None and len(value) != length:
        raise KeyFileError(
            "longueur invalide",
            path=path,
            key=prefix + name,
            expected=f"{length} octets",
        )
    return value
