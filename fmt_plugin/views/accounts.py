"""`fmt-plugin users list`: the practice's accounts, in French, on the practice's clock."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from fmt_plugin.storage.accounts import Account
from fmt_plugin.views import french
from fmt_plugin.views.fitted_table import fitted_table


def account_state(account: Account, now: datetime) -> str:
    """`actif`, `désactivé le …`, `verrouillé jusqu'au … (5 essais)`."""
    if account.disabled_at is not None:
        return f"désactivé le {french.local_time(account.disabled_at)}"
    if account.locked_until is not None and account.locked(now):
        return (
            f"verrouillé jusqu'au {french.local_time(account.locked_until)} "
            f"({account.failed_logins} essais)"
        )
    return "actif"


def render_accounts(accounts: Sequence[Account], now: datetime) -> str:
    """One line per account; a sentence when there is none."""
    if not accounts:
        return "Aucun compte. Créez-en un : fmt-plugin users add NOM --role medecin\n"
    rows = [["Compte", "Rôle", "Créé le", "État"]]
    rows += [
        [
            account.name,
            account.role.label,
            french.local_time(account.created_at),
            account_state(account, now),
        ]
        for account in accounts
    ]
    return "\n".join(fitted_table(rows, None)) + "\n"
