"""The `users` sub-commands: the practice's local accounts (for the dashboard).

Whoever can run this command on the installation's machine manages the accounts (the
practice's IT provider): there is no role check here, the operating system's access is it.
Passwords are typed twice without echo, or read from an environment variable for scripts;
they never appear in arguments, logs nor the audit log.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from datetime import datetime

from fmt_plugin.accounts.passwords import MIN_LENGTH, hash_password
from fmt_plugin.accounts.roles import Role
from fmt_plugin.commands.french_argparse import Choice
from fmt_plugin.commands.invocation import Subparsers, current_actor, with_installation
from fmt_plugin.errors import ExitStatus, UsageError
from fmt_plugin.installation import Installation
from fmt_plugin.timezone import PARIS
from fmt_plugin.views.accounts import render_accounts

ROLES = Choice(
    {
        Role.MEDECIN: ["medecin", "doctor"],
        Role.ASSISTANT: ["assistant", "assistante"],
        Role.ADMIN: ["admin", "administrateur"],
    }
)


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    """Add `users add|list|passwd|disable|enable|unlock`."""
    users = commands.add_parser("users", help="comptes du cabinet (tableau de bord)")
    user_commands = users.add_subparsers(title="commandes", metavar="COMMANDE")
    add = user_commands.add_parser("add", parents=[common], help="créer un compte")
    _name_argument(add)
    add.add_argument(
        "--role",
        type=ROLES,
        required=True,
        metavar="RÔLE",
        help=f"{ROLES.words} : l'assistant(e) ne peut ni enregistrer une exclusion "
        "médicale ni gérer les comptes",
    )
    _password_argument(add)
    add.set_defaults(handler=cmd_users_add)
    listing = user_commands.add_parser(
        "list", parents=[common], help="lister les comptes et leur état"
    )
    listing.set_defaults(handler=cmd_users_list)
    passwd = user_commands.add_parser(
        "passwd", parents=[common], help="changer le mot de passe d'un compte"
    )
    _name_argument(passwd)
    _password_argument(passwd)
    passwd.set_defaults(handler=cmd_users_passwd)
    for name, text, handler in (
        (
            "disable",
            "désactiver un compte (il reste dans le journal)",
            cmd_users_disable,
        ),
        ("enable", "réactiver un compte désactivé", cmd_users_enable),
        ("unlock", "déverrouiller un compte après trop d'essais", cmd_users_unlock),
    ):
        sub = user_commands.add_parser(name, parents=[common], help=text)
        _name_argument(sub)
        sub.set_defaults(handler=handler)


def _name_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "name", metavar="NOM", help="identifiant de connexion du compte"
    )


def _password_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-env",
        "--mot-de-passe-env",
        dest="password_env",
        metavar="VARIABLE",
        help="lire le mot de passe dans cette variable d'environnement (scripts) ; "
        "sans elle, il est demandé deux fois sans s'afficher",
    )


def new_password(args: argparse.Namespace) -> str:
    """The password from `--password-env`, or typed twice at the terminal."""
    if args.password_env:
        value = os.environ.get(args.password_env)
        if not value:
            raise UsageError(
                f"variable d'environnement {args.password_env} absente ou vide"
            )
        return value
    if not sys.stdin.isatty():
        raise UsageError(
            "pas de terminal pour saisir le mot de passe : utilisez --password-env VARIABLE"
        )
    first = getpass.getpass(f"Mot de passe (au moins {MIN_LENGTH} caractères) : ")
    if getpass.getpass("Mot de passe, une seconde fois : ") != first:
        raise UsageError("les deux saisies diffèrent : rien n'a été changé")
    return first


def _now() -> datetime:
    return datetime.now(PARIS)


def cmd_users_add(args: argparse.Namespace) -> int:
    """Create an account with its role and password."""
    password_hash = hash_password(new_password(args))

    def add(installation: Installation) -> int:
        account = installation.store.accounts.add(
            args.name, Role(args.role), password_hash, actor=current_actor(), now=_now()
        )
        print(f"Compte « {account.name} » créé ({account.role.label}).")
        return ExitStatus.OK

    return with_installation(args, add)


def cmd_users_list(args: argparse.Namespace) -> int:
    """List the accounts: name, role, creation, state."""

    def listing(installation: Installation) -> int:
        sys.stdout.write(render_accounts(installation.store.accounts.all(), _now()))
        return ExitStatus.OK

    return with_installation(args, listing)


def cmd_users_passwd(args: argparse.Namespace) -> int:
    """Set an account's password (and lift its lock-out)."""
    password_hash = hash_password(new_password(args))

    def passwd(installation: Installation) -> int:
        installation.store.accounts.set_password(
            args.name, password_hash, actor=current_actor(), now=_now()
        )
        print(f"Mot de passe de « {args.name} » changé.")
        return ExitStatus.OK

    return with_installation(args, passwd)


def _change(args: argparse.Namespace, method: str, done: str) -> int:
    def change(installation: Installation) -> int:
        getattr(installation.store.accounts, method)(
            args.name, actor=current_actor(), now=_now()
        )
        print(f"Compte « {args.name} » {done}.")
        return ExitStatus.OK

    return with_installation(args, change)


def cmd_users_disable(args: argparse.Namespace) -> int:
    """Disable an account."""
    return _change(args, "disable", "désactivé")


def cmd_users_enable(args: argparse.Namespace) -> int:
    """Enable a disabled account."""
    return _change(args, "enable", "réactivé")


def cmd_users_unlock(args: argparse.Namespace) -> int:
    """Lift a lock-out."""
    return _change(args, "unlock", "déverrouillé")
