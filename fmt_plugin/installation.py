"""Open an existing installation: configuration, key file, encrypted store and plugin manager."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

import pluggy

from fmt_plugin.adapters.patient_match import StorePatientMatcher
from fmt_plugin.config import FmtConfig, load_config
from fmt_plugin.hooks.host import build_plugin_manager
from fmt_plugin.key_passphrase import unlock_keyring
from fmt_plugin.storage import Store
from fmt_plugin.storage.audit_anchor import AuditAnchor, SyslogJournal


@dataclass
class Installation:
    """Everything a command needs, opened together and closed together."""

    config: FmtConfig
    store: Store
    pm: pluggy.PluginManager

    def close(self) -> None:
        """Close the store (the plugin manager holds no resources)."""
        self.store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def audit_anchor(config: FmtConfig) -> AuditAnchor:
    """The installation's audit anchor, with its `[audit]` settings."""
    socket = config.audit.journal_socket
    journal = SyslogJournal(socket) if socket is not None else None
    return AuditAnchor(config.audit.anchor_file, journal=journal)


def open_installation(
    config_path: Path, *, cross_thread_store: bool = False
) -> Installation:
    """Validate the configuration, unlock the keys, open the store and load every adapter.

    `cross_thread_store` opens a store that several threads may use, one at a time (the
    listener's; see `Store.open`). Raises ConfigError/KeyFileError (bad settings),
    StoreError (store missing or not ours) or PluginError (an adapter failed): nothing is
    left open on failure.
    """
    config = load_config(config_path)
    keyring = unlock_keyring(config.store)
    store = Store.open(
        config.store.path,
        keyring,
        anchor=audit_anchor(config),
        cross_thread=cross_thread_store,
    )
    try:
        matcher = StorePatientMatcher(store, config.practice.patient_id_authorities)
        pm = build_plugin_manager(config, extra_plugins=[("patient_match", matcher)])
    except BaseException:
        store.close()
        raise
    return Installation(config=config, store=store, pm=pm)
