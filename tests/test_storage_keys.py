"""Tests of key files: generation, loading, permission checks, passphrase sealing, rotation."""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fmt_plugin.errors import KeyFileError
from fmt_plugin.storage import KeyRing, generate_key_file, load_key_file
from fmt_plugin.storage.keys import add_data_key

PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "fmt-keys.json"


@pytest.fixture
def umask_000() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def rewrite(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))
    path.chmod(0o600)


def test_generated_file_is_mode_0600_even_with_umask_000(key_path, umask_000):
    """A new key file is readable and writable by its owner only, whatever the umask."""
    generate_key_file(key_path)
    assert mode_of(key_path) == 0o600


def test_generate_creates_missing_parent_directory(tmp_path):
    """Generating into a missing directory creates it."""
    path = tmp_path / "a" / "b" / "keys.json"
    generate_key_file(path)
    assert path.is_file()


def test_generate_refuses_to_overwrite_existing_file(key_path):
    """A second generate on the same path fails, names the path and keeps the first keys."""
    first = generate_key_file(key_path)
    with pytest.raises(KeyFileError) as excinfo:
        generate_key_file(key_path)
    assert str(key_path) in str(excinfo.value)
    assert load_key_file(key_path) == first


def test_generated_file_follows_the_documented_format(key_path):
    """The file is versioned JSON with one 32-byte data key named by the primary id."""
    ring = generate_key_file(key_path)
    document = json.loads(key_path.read_text())
    assert document["format"] == "fmt-plugin-keyfile"
    assert document["version"] == 1
    assert document["protection"] == {"kind": "none"}
    assert document["primary"] == ring.primary_id
    assert len(ring.primary_id) == 8
    data_key = document["secrets"]["data_keys"][ring.primary_id]
    assert base64.b64decode(data_key) == ring.data_keys[ring.primary_id]


def test_load_returns_the_generated_keyring(key_path):
    """Loading a generated file gives back the same keys."""
    ring = generate_key_file(key_path)
    assert load_key_file(key_path) == ring


def test_index_audit_and_data_keys_are_distinct(key_path):
    """The three kinds of key are independent random values."""
    ring = generate_key_file(key_path)
    keys = {ring.index_key, ring.audit_key, ring.data_keys[ring.primary_id]}
    assert len(keys) == 3


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o602])
def test_load_refuses_file_open_to_group_or_others(key_path, mode):
    """A key file readable or writable by group or others is refused with a chmod hint."""
    generate_key_file(key_path)
    key_path.chmod(mode)
    with pytest.raises(KeyFileError) as excinfo:
        load_key_file(key_path)
    assert excinfo.value.path == key_path
    assert f"chmod 600 {key_path}" in str(excinfo.value)


def test_load_missing_file_names_the_path(key_path):
    """A missing key file raises KeyFileError naming it."""
    with pytest.raises(KeyFileError) as excinfo:
        load_key_file(key_path)
    assert str(key_path) in str(excinfo.value)


def test_load_malformed_json_names_the_path(key_path):
    """A file that is not JSON raises KeyFileError naming the file, without its content."""
    generate_key_file(key_path)
    key_path.write_text('{"format": "fmt-plugin-keyfile", SECRETSTUFF')
    with pytest.raises(KeyFileError) as excinfo:
        load_key_file(key_path)
    assert str(key_path) in str(excinfo.value)
    assert "SECRETSTUFF" not in str(excinfo.value)


def test_load_wrong_version_names_the_version_field(key_path):
    """An unknown format version is refused and the error names `version`."""
    generate_key_file(key_path)
    rewrite(key_path, lambda doc: doc.update(version=2))
    with pytest.raises(KeyFileError) as excinfo:
        load_key_file(key_path)
    assert excinfo.value.key == "version"


def test_load_wrong_format_names_the_format_field(key_path):
    """A JSON file of another kind is refused and the error names `format`."""
    generate_key_file(key_path)
    rewrite(key_path, lambda doc: doc.update(format="something-else"))
    with pytest.raises(KeyFileError) as excinfo:
        load_key_file(key_path)
    assert excinfo.value.key == "format"


def test_load_missing_field_names_the_field(key_path):
    """A key file without its index key names `secrets.index_key`."""
    generate_key_file(key_path)
    rewrite(key_path, lambda doc: doc["secrets"].pop("index_key"))
    with pytest.raises(KeyFileError) as excinfo:
        load_key_file(key_path)
    assert excinfo.value.key == "secrets.index_key"
    assert "secrets.index_key" in str(excinfo.value)


def test_load_bad_base64_names_the_field(key_path):
    """A key that is not base64 is refused and the error names it."""
    generate_key_file(key_path)
    rewrite(key_path, lambda doc: doc["secrets"].update(audit_key="not*base64!"))
    with pytest.raises(KeyFileError) as excinfo:
        load_key_file(key_path)
    assert excinfo.value.key == "secrets.audit_key"


def test_load_short_key_names_the_field(key_path):
    """A 16-byte key where 32 are needed is refused and the error names it."""
    generate_key_file(key_path)
    short = base64.b64encode(bytes(16)).decode()
    rewrite(key_path, lambda doc: doc["secrets"].update(index_key=short))
    with pytest.raises(KeyFileError) as excinfo:
        load_key_file(key_path)
    assert excinfo.value.key == "secrets.index_key"
    assert excinfo.value.expected == "32 octets"


def test_load_primary_not_among_data_keys_names_primary(key_path):
    """A primary id with no matching data key is refused and the error names `primary`."""
    generate_key_file(key_path)
    rewrite(key_path, lambda doc: doc.update(primary="00000000"))
    with pytest.raises(KeyFileError) as excinfo:
        load_key_file(key_path)
    assert excinfo.value.key == "primary"


def test_passphrase_round_trip(key_path):
    """A passphrase-protected file loads back to the same keys with that passphrase."""
    ring = generate_key_file(key_path, passphrase=PASSPHRASE)
    assert load_key_file(key_path, passphrase=PASSPHRASE) == ring


def test_passphrase_file_holds_no_clear_secrets(key_path):
    """A protected file stores only the sealed blob, never the keys in base64."""
    ring = generate_key_file(key_path, passphrase=PASSPHRASE)
    text = key_path.read_text()
    document = json.loads(text)
    assert "secrets" not in document
    assert document["protection"]["kind"] == "scrypt-aes256gcm"
    for key in (*ring.data_keys.values(), ring.index_key, ring.audit_key):
        assert base64.b64encode(key).decode() not in text


def test_protected_file_without_passphrase_is_refused(key_path):
    """Loading a protected file without a passphrase raises KeyFileError."""
    generate_key_file(key_path, passphrase=PASSPHRASE)
    with pytest.raises(KeyFileError, match="phrase secrète est requise"):
        load_key_file(key_path)


def test_wrong_passphrase_is_refused(key_path):
    """A wrong passphrase raises KeyFileError that does not echo the passphrase."""
    generate_key_file(key_path, passphrase=PASSPHRASE)
    with pytest.raises(KeyFileError) as excinfo:
        load_key_file(key_path, passphrase="Tr0ub4dor&3")
    assert "Tr0ub4dor&3" not in str(excinfo.value)
    assert str(key_path) in str(excinfo.value)


def test_generate_refuses_empty_passphrase(key_path):
    """An empty passphrase would protect nothing, so it is refused and no file is written."""
    with pytest.raises(KeyFileError):
        generate_key_file(key_path, passphrase="")
    assert not key_path.exists()


def test_add_data_key_keeps_old_keys_and_changes_primary(key_path):
    """Rotation adds a new primary data key and keeps the old ones for decryption."""
    old = generate_key_file(key_path)
    new = add_data_key(key_path)
    assert new.primary_id != old.primary_id
    assert new.data_keys[old.primary_id] == old.data_keys[old.primary_id]
    assert len(new.data_keys) == 2
    assert load_key_file(key_path) == new


def test_add_data_key_keeps_index_and_audit_keys(key_path):
    """Rotation changes data keys only, so blind indexes, audit macs and fingerprint hold."""
    old = generate_key_file(key_path)
    new = add_data_key(key_path)
    assert (new.index_key, new.audit_key) == (old.index_key, old.audit_key)
    assert new.fingerprint() == old.fingerprint()


def test_add_data_key_leaves_a_private_file_and_no_temporary(key_path, umask_000):
    """The rewritten key file is mode 0600 and no temporary file remains beside it."""
    generate_key_file(key_path)
    add_data_key(key_path)
    assert mode_of(key_path) == 0o600
    assert [p.name for p in key_path.parent.iterdir()] == [key_path.name]


def test_add_data_key_keeps_passphrase_protection(key_path):
    """Rotating a protected file keeps it protected by the same passphrase."""
    generate_key_file(key_path, passphrase=PASSPHRASE)
    new = add_data_key(key_path, passphrase=PASSPHRASE)
    assert "sealed" in json.loads(key_path.read_text())
    assert load_key_file(key_path, passphrase=PASSPHRASE) == new


def test_keyring_repr_contains_no_key_material(key_path):
    """repr(KeyRing) shows the primary id only: no key bytes, hex or base64."""
    ring = generate_key_file(key_path)
    text = repr(ring)
    for key in (*ring.data_keys.values(), ring.index_key, ring.audit_key):
        assert repr(key) not in text
        assert key.hex() not in text
        assert base64.b64encode(key).decode() not in text
    assert ring.primary_id in text


def test_keyring_rejects_primary_outside_data_keys():
    """A key ring whose primary id names no data key cannot be built."""
    with pytest.raises(ValueError, match="primary_id"):
        KeyRing("aaaaaaaa", {"bbbbbbbb": bytes(32)}, bytes(32), bytes(32))


def test_fingerprint_differs_between_keyrings(tmp_path):
    """Two generated key rings have different fingerprints."""
    one = generate_key_file(tmp_path / "one.json")
    two = generate_key_file(tmp_path / "two.json")
    assert one.fingerprint() != two.fingerprint()
