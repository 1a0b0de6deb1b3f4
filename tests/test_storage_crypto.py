"""Tests of the AES-256-GCM field cipher and the HMAC blind index."""

from __future__ import annotations

import os

import pytest

from fmt_plugin.errors import DecryptionError
from fmt_plugin.storage import KeyRing, generate_key_file
from fmt_plugin.storage.crypto import FieldCipher
from fmt_plugin.storage.keys import add_data_key

WHERE = {"table": "patients", "record_id": "P001", "field": "identity"}
PLAINTEXT = b'{"nom": "MARTIN", "ins": "180017512345678"}'


def make_keyring() -> KeyRing:
    key_id = os.urandom(4).hex()
    return KeyRing(key_id, {key_id: os.urandom(32)}, os.urandom(32), os.urandom(32))


@pytest.fixture
def cipher() -> FieldCipher:
    return FieldCipher(make_keyring())


def test_round_trip(cipher):
    """Decrypting an encrypted value with the same context gives back the plaintext."""
    ciphertext = cipher.encrypt(PLAINTEXT, **WHERE)
    assert cipher.decrypt(ciphertext, **WHERE) == PLAINTEXT


def test_empty_value_round_trips(cipher):
    """An empty plaintext encrypts and decrypts too."""
    assert cipher.decrypt(cipher.encrypt(b"", **WHERE), **WHERE) == b""


def test_ciphertext_has_versioned_header_with_key_id():
    """The ciphertext starts with version 0x01 and the primary key id's 4 raw bytes."""
    ring = make_keyring()
    ciphertext = FieldCipher(ring).encrypt(PLAINTEXT, **WHERE)
    assert ciphertext[0] == 0x01
    assert ciphertext[1:5] == bytes.fromhex(ring.primary_id)
    assert len(ciphertext) == 1 + 4 + 12 + len(PLAINTEXT) + 16


def test_same_value_encrypts_differently_each_time(cipher):
    """Two encryptions of one value differ, nonce included: a fresh nonce per call."""
    first = cipher.encrypt(PLAINTEXT, **WHERE)
    second = cipher.encrypt(PLAINTEXT, **WHERE)
    assert first != second
    assert first[5:17] != second[5:17]


@pytest.mark.parametrize(
    "moved",
    [
        {"record_id": "P002"},
        {"table": "events"},
        {"field": "contact"},
    ],
    ids=["other-record", "other-table", "other-field"],
)
def test_ciphertext_moved_elsewhere_fails(cipher, moved):
    """A ciphertext decrypted for another record, table or field raises DecryptionError."""
    ciphertext = cipher.encrypt(PLAINTEXT, **WHERE)
    with pytest.raises(DecryptionError):
        cipher.decrypt(ciphertext, **{**WHERE, **moved})


def test_context_encoding_is_unambiguous(cipher):
    """Moving characters between record id and field does not yield the same AAD."""
    ciphertext = cipher.encrypt(PLAINTEXT, table="t", record_id="ab", field="c")
    with pytest.raises(DecryptionError):
        cipher.decrypt(ciphertext, table="t", record_id="a", field="bc")


@pytest.mark.parametrize("position", [0, 1, 5, 20, -1])
def test_tampered_byte_fails(cipher, position):
    """Flipping any byte (header, nonce, body or tag) raises DecryptionError."""
    ciphertext = bytearray(cipher.encrypt(PLAINTEXT, **WHERE))
    ciphertext[position] ^= 0x01
    with pytest.raises(DecryptionError):
        cipher.decrypt(bytes(ciphertext), **WHERE)


def test_truncated_ciphertext_fails(cipher):
    """A ciphertext too short to hold header, nonce and tag raises DecryptionError."""
    ciphertext = cipher.encrypt(PLAINTEXT, **WHERE)
    with pytest.raises(DecryptionError):
        cipher.decrypt(ciphertext[:20], **WHERE)


def test_unknown_key_id_fails(cipher):
    """A ciphertext made under a key the ring does not hold raises DecryptionError."""
    foreign = FieldCipher(make_keyring()).encrypt(PLAINTEXT, **WHERE)
    with pytest.raises(DecryptionError):
        cipher.decrypt(foreign, **WHERE)


def test_decryption_error_is_opaque(cipher):
    """Every failure gives the same message, so an attacker learns nothing from it."""
    good = cipher.encrypt(PLAINTEXT, **WHERE)
    messages = set()
    for bad in (b"", b"\x02" + good[1:], good[:-1] + bytes([good[-1] ^ 1])):
        with pytest.raises(DecryptionError) as excinfo:
            cipher.decrypt(bad, **WHERE)
        messages.add(str(excinfo.value))
    assert len(messages) == 1


def test_old_key_still_decrypts_after_rotation(tmp_path):
    """A value encrypted before `add_data_key` decrypts with the rotated ring."""
    path = tmp_path / "keys.json"
    before = generate_key_file(path)
    old_ciphertext = FieldCipher(before).encrypt(PLAINTEXT, **WHERE)
    after = add_data_key(path)
    assert FieldCipher(after).decrypt(old_ciphertext, **WHERE) == PLAINTEXT


def test_new_values_use_the_new_primary_after_rotation(tmp_path):
    """After rotation, encryption uses the new primary key id."""
    path = tmp_path / "keys.json"
    generate_key_file(path)
    after = add_data_key(path)
    ciphertext = FieldCipher(after).encrypt(PLAINTEXT, **WHERE)
    assert ciphertext[1:5] == bytes.fromhex(after.primary_id)


def test_blind_index_is_deterministic(cipher):
    """The same kind and value always give the same 32-byte index."""
    first = cipher.blind_index("ins", "180017512345678")
    assert first == cipher.blind_index("ins", "180017512345678")
    assert len(first) == 32


def test_blind_index_differs_by_kind(cipher):
    """One value indexed under two kinds gives two different indexes."""
    assert cipher.blind_index("ins", "0612345678") != cipher.blind_index(
        "phone", "0612345678"
    )


def test_blind_index_differs_by_key():
    """One value indexed under two index keys gives two different indexes."""
    one = FieldCipher(make_keyring()).blind_index("ins", "180017512345678")
    two = FieldCipher(make_keyring()).blind_index("ins", "180017512345678")
    assert one != two


def test_blind_index_refuses_nul_in_kind(cipher):
    """A kind containing NUL is refused because it would make the encoding ambiguous."""
    with pytest.raises(ValueError, match="NUL"):
        cipher.blind_index("i\x00ns", "1")


def test_cipher_repr_contains_no_key_material():
    """repr(FieldCipher) names the primary key id only."""
    ring = make_keyring()
    text = repr(FieldCipher(ring))
    assert ring.data_keys[ring.primary_id].hex() not in text
    assert ring.index_key.hex() not in text
