"""Encrypted persistence of patient data: the store, its key ring and key files."""

from __future__ import annotations

from fmt_plugin.storage.keys import (
    KeyRing,
    add_data_key,
    generate_key_file,
    load_key_file,
)
from fmt_plugin.storage.store import Store, SyncSummary

__all__ = [
    "KeyRing",
    "Store",
    "SyncSummary",
    "add_data_key",
    "generate_key_file",
    "load_key_file",
]
