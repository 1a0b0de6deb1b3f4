"""AES-256-GCM field encryption bound to its record, and the HMAC blind index for lookups.

Ciphertext layout (format version 1)::

    0x01 | key id (4 bytes) | nonce (12 bytes) | AES-GCM ciphertext and 16-byte tag

The associated data is the 5-byte header followed by the length-prefixed UTF-8 table name,
record id and field name, so a ciphertext copied to another row, table or column no longer
authenticates. Every decryption failure raises the same opaque DecryptionError.
"""

from __future__ import annotations

import hmac
import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from fmt_plugin.errors import DecryptionError
from fmt_plugin.storage.keys import KeyRing

FORMAT_VERSION = 0x01
KEY_ID_BYTES = 4
NONCE_BYTES = 12
TAG_BYTES = 16
HEADER_BYTES = 1 + KEY_ID_BYTES
MIN_CIPHERTEXT_BYTES = HEADER_BYTES + NONCE_BYTES + TAG_BYTES


class FieldCipher:
    """Encrypts with the key ring's primary data key; decrypts with any key of the ring."""

    def __init__(self, keyring: KeyRing) -> None:
        self._primary = bytes.fromhex(keyring.primary_id)
        self._aeads = {
            bytes.fromhex(key_id): AESGCM(key)
            for key_id, key in keyring.data_keys.items()
        }
        self._index_key = keyring.index_key

    @property
    def key_ids(self) -> list[str]:
        """The ids of every data key this cipher decrypts with, in id order."""
        return sorted(key_id.hex() for key_id in self._aeads)

    @property
    def primary_id(self) -> str:
        """The id (8 hex digits) of the key that encrypts new values."""
        return self._primary.hex()

    def __repr__(self) -> str:
        return f"<FieldCipher primary={self._primary.hex()} keys={len(self._aeads)}>"

    def encrypt(
        self, plaintext: bytes, *, table: str, record_id: str, field: str
    ) -> bytes:
        """Encrypt `plaintext` for one field of one record, under a fresh random nonce."""
        header = bytes([FORMAT_VERSION]) + self._primary
        # A random 96-bit nonce per call: never reused, whatever the caller does.
        nonce = os.urandom(NONCE_BYTES)
        aad = header + _context(table, record_id, field)
        return (
            header + nonce + self._aeads[self._primary].encrypt(nonce, plaintext, aad)
        )

    def decrypt(
        self, ciphertext: bytes, *, table: str, record_id: str, field: str
    ) -> bytes:
        """Decrypt a value made by `encrypt` for the same table, record and field.

        Raises DecryptionError, saying nothing more, on any failure.
        """
        if len(ciphertext) < MIN_CIPHERTEXT_BYTES or ciphertext[0] != FORMAT_VERSION:
            raise DecryptionError()
        header = ciphertext[:HEADER_BYTES]
        aead = self._aeads.get(header[1:])
        if aead is None:
            raise DecryptionError()
        nonce = ciphertext[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES]
        aad = header + _context(table, record_id, field)
        try:
            return aead.decrypt(nonce, ciphertext[HEADER_BYTES + NONCE_BYTES :], aad)
        except InvalidTag:
            raise DecryptionError() from None

    def blind_index(self, kind: str, value: str) -> bytes:
        """HMAC-SHA256 of `kind` NUL `value` under the index key: equal inputs, equal outputs.

        `kind` separates namespaces (an INS and a phone number never collide); it must not
        contain NUL, which would make the encoding ambiguous.
        """
        return self.blind_index_bytes(kind, value.encode())

    def blind_index_bytes(self, kind: str, value: bytes) -> bytes:
        """`blind_index` of raw bytes (a whole message's content, say)."""
        if "\x00" in kind:
            raise ValueError("blind index kind must not contain NUL")
        # hmac.digest is the one-shot C path, several times faster than hmac.new().digest().
        return hmac.digest(self._index_key, kind.encode() + b"\x00" + value, "sha256")


def _context(table: str, record_id: str, field: str) -> bytes:
    """Length-prefixed encoding: ("ab", "c") and ("a", "bc") must not share an AAD."""
    parts = [part.encode("utf-8") for part in (table, record_id, field)]
    return b"".join(struct.pack(">I", len(part)) + part for part in parts)
