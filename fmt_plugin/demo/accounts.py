"""The demo practice's dashboard accounts: one per role, passwords drawn once, kept beside it.

The demo is meant to be opened in a browser right after `fmt-plugin demo`, so it creates a
GP, an assistant and an administrator account. Their passwords are random (the demo listens
on 127.0.0.1, but a well-known password is a habit health software must not teach) and
written to `comptes-demo.txt` in the demo folder, readable by its owner only, so a second run
prints the same ones.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fmt_plugin.accounts.passwords import hash_password
from fmt_plugin.accounts.roles import Role
from fmt_plugin.private_files import write_privately
from fmt_plugin.storage.store import Store
from fmt_plugin.timezone import PARIS

ACCOUNTS_FILE = "comptes-demo.txt"
DEMO_ACCOUNTS = (
    ("docteur", Role.MEDECIN),
    ("assistante", Role.ASSISTANT),
    ("admin", Role.ADMIN),
)


@dataclass(frozen=True)
class DemoLogin:
    """One demo account and its password (synthetic practice only)."""

    name: str
    role: Role
    password: str


def demo_logins(store: Store, folder: Path, *, actor: str) -> list[DemoLogin]:
    """The demo's accounts, created on first use; their passwords from `folder`'s file."""
    path = folder / ACCOUNTS_FILE
    known = _read(path)
    logins: list[DemoLogin] = []
    for name, role in DEMO_ACCOUNTS:
        password = known.get(name)
        account = store.accounts.find(name)
        if account is None or password is None:
            password = password or secrets.token_urlsafe(12)
            now = datetime.now(PARIS)
            if account is None:
                store.accounts.add(
                    name, role, hash_password(password), actor=actor, now=now
                )
            else:
                store.accounts.set_password(
                    name, hash_password(password), actor=actor, now=now
                )
        logins.append(DemoLogin(name, role, password))
    if {login.name: login.password for login in logins} != known:
        write_privately(path, _text(logins).encode("utf-8"))
    return logins


def _read(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    logins: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or "\t" not in line:
            continue
        name, _, password = line.split("\t")
        logins[name] = password
    return logins


def _text(logins: list[DemoLogin]) -> str:
    lines = [
        "# Comptes du tableau de bord de démonstration (patientèle fictive).",
        "# identifiant<TAB>rôle<TAB>mot de passe",
    ]
    lines += [f"{login.name}\t{login.role}\t{login.password}" for login in logins]
    return "\n".join(lines) + "\n"
