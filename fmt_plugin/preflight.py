"""Everything start-up checks before the service accepts a message, shared by `serve` and `check-config`.

Opening the installation already validates the configuration, unlocks the key file, opens the
store and loads every adapter (each failure names its file, key or adapter). This adds what
would otherwise fail later, at the worst time: a malformed rule pack (at the first
evaluation), an unreadable channel certificate (at the first recall, days later), an outbox
folder that cannot be written, a letter template that does not render, a job store folder
that does not exist. A problem raises the
same `ConfigError` family, so the service refuses to start with one clear line.

The MLLP TLS files are not checked here: `serve` checks them when it builds its listener,
before the store is even opened, and `check-config` builds the same TLS context itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from fmt_plugin.errors import ConfigError
from fmt_plugin.evaluation import select_rule_pack
from fmt_plugin.hooks.host import adapter_infos
from fmt_plugin.installation import Installation
from fmt_plugin.model import AdapterInfo
from fmt_plugin.recalls.letter import Letters
from fmt_plugin.recalls.runner import recall_channels
from fmt_plugin.rules.pack import RulePack


@dataclass(frozen=True)
class Preflight:
    """What start-up found: the rule pack in use, the adapters, the channels checked."""

    pack: RulePack
    adapters: tuple[AdapterInfo, ...]
    channels: tuple[str, ...]


def check_installation(installation: Installation) -> Preflight:
    """Check rule packs, channels and the job store; raise `ConfigError` if unusable."""
    config = installation.config
    pack = select_rule_pack(config, installation.pm)
    channels = recall_channels(installation)
    for channel in channels:
        check = getattr(channel, "check", None)
        if callable(check):
            check()
    if channels:
        check_letters(installation, pack)
    _check_jobstore(config.recalls.jobstore, config.path)
    return Preflight(
        pack=pack,
        adapters=tuple(adapter_infos(installation.pm)),
        channels=tuple(channel.name for channel in channels),
    )


def check_letters(installation: Installation, pack: RulePack) -> None:
    """Render every letter template once; `LetterTemplateError` names the file and line.

    A broken template would otherwise turn every recall into a failure, retried for days.
    """
    Letters.from_config(installation.config).check(
        (indicator.id, indicator.label) for indicator in pack.indicators
    )


def _check_jobstore(path: Path | None, config_path: Path) -> None:
    """The scheduler's job store must be creatable: SQLite would fail deep in SQLAlchemy."""
    if path is None:
        return
    folder = path.parent
    if not folder.is_dir():
        raise ConfigError(
            f"le dossier {folder} n'existe pas",
            path=config_path,
            key="recalls.jobstore",
            expected="un dossier existant",
        )
    writable = path if path.exists() else folder
    if not os.access(writable, os.W_OK):
        raise ConfigError(
            f"{writable} non accessible en écriture",
            path=config_path,
            key="recalls.jobstore",
        )
