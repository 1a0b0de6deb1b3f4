"""The key file's passphrase: from the configuration's environment variable, or typed, unseen.

The service reads it from `[store] key_passphrase` (an environment variable). A person at a
terminal who runs a command without it is asked for it, never echoed (`getpass`); without a
terminal, the key file's own error says the passphrase is required.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from fmt_plugin.config import StoreSettings
from fmt_plugin.errors import KeyFileError, UsageError
from fmt_plugin.storage.keys import KeyRing, is_protected, load_key_file

#: Shorter passphrases are refused: scrypt slows a guess down, it cannot make "1234" strong.
MIN_PASSPHRASE_CHARS = 12

Prompt = Callable[[str], str]

_typed: dict[Path, str] = {}


def unlock_keyring(settings: StoreSettings, *, prompt: Prompt | None = None) -> KeyRing:
    """The store's key ring, unsealed with the configured passphrase or one typed now."""
    passphrase = current_passphrase(settings, prompt=prompt)
    keyring = load_key_file(settings.key_file, passphrase=passphrase)
    if passphrase is not None and settings.key_passphrase is None:
        # Asked once per process: `serve` opens the store from several threads, and the
        # keys it unseals are in this process's memory anyway.
        _typed[settings.key_file.resolve()] = passphrase
    return keyring


def current_passphrase(
    settings: StoreSettings, *, prompt: Prompt | None = None
) -> str | None:
    """The passphrase that unseals the key file: configured, typed at a terminal, or None.

    None for a key file without one, and for a sealed one when nobody can be asked (the
    key file's loader then says the passphrase is required).
    """
    if settings.key_passphrase is not None:
        return settings.key_passphrase
    if not is_protected(settings.key_file):
        return None
    typed = _typed.get(settings.key_file.resolve())
    if typed is not None:
        return typed
    ask = prompt or _terminal_prompt()
    if ask is None:
        return None
    return ask(f"Phrase secrète du fichier de clés {settings.key_file} : ") or None


def new_passphrase(
    *,
    env_var: str | None,
    environ: Mapping[str, str] = os.environ,
    prompt: Prompt | None = None,
) -> str:
    """A new passphrase: from `env_var`, or typed twice at the terminal (never echoed).

    Raises UsageError when the variable is empty or absent, when nobody can be asked, when
    the two typings differ, or when it is shorter than MIN_PASSPHRASE_CHARS.
    """
    if env_var is not None:
        value = environ.get(env_var, "")
        if not value:
            raise UsageError(
                f"--nouvelle-env : la variable {env_var} est vide ou absente"
            )
        return _long_enough(value)
    ask = prompt or _terminal_prompt()
    if ask is None:
        raise UsageError(
            "pas de terminal pour saisir la nouvelle phrase secrète : donnez-la par une"
            " variable d'environnement (--nouvelle-env NOM)"
        )
    first = _long_enough(ask("Nouvelle phrase secrète : "))
    if ask("Confirmez la nouvelle phrase secrète : ") != first:
        raise UsageError("les deux saisies diffèrent : phrase secrète inchangée")
    return first


def _long_enough(passphrase: str) -> str:
    if len(passphrase) < MIN_PASSPHRASE_CHARS:
        raise UsageError(
            f"phrase secrète trop courte : au moins {MIN_PASSPHRASE_CHARS} caractères"
        )
    return passphrase


def _terminal_prompt() -> Prompt | None:
    """`getpass` when a person can answer, None under systemd or a script."""
    if not sys.stdin.isatty():
        return None
    return _getpass


def _getpass(question: str) -> str:
    try:
        return getpass.getpass(question)
    except EOFError:
        raise KeyFileError("saisie de la phrase secrète interrompue") from None
