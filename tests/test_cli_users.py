"""`fmt-plugin users`: the practice's accounts, managed as the IT provider would."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import RunCli
from terminal import run_at_terminal

PASSWORD = "correct-horse-battery"


@pytest.fixture
def config(run_cli: RunCli) -> str:
    result = run_cli("init", "inst")
    assert result.returncode == 0, result.stderr
    return "inst/fmt.toml"


def users(run_cli: RunCli, config: str, *args: str, password: str | None = PASSWORD):
    env = {"FMT_TEST_PASSWORD": password} if password is not None else None
    return run_cli("--config", config, "users", *args, env=env)


def add(run_cli: RunCli, config: str, name: str, role: str) -> None:
    result = users(
        run_cli,
        config,
        "add",
        name,
        "--role",
        role,
        "--password-env",
        "FMT_TEST_PASSWORD",
    )
    assert result.returncode == 0, result.stderr


def test_add_creates_an_account_with_its_role(run_cli, config):
    """The account is listed with its French role and « actif »."""
    add(run_cli, config, "drmartin", "médecin")
    add(run_cli, config, "anne", "assistante")
    listing = users(run_cli, config, "list").stdout
    lines = {line.split()[0]: line for line in listing.splitlines()[2:]}
    assert "médecin" in lines["drmartin"]
    assert "assistant(e) médical(e)" in lines["anne"]
    assert lines["anne"].rstrip().endswith("actif")


def test_list_without_accounts_says_how_to_make_one(run_cli, config):
    """A fresh installation has no account, and says which command adds one."""
    result = users(run_cli, config, "list")
    assert result.returncode == 0, result.stderr
    assert "fmt-plugin users add" in result.stdout


def test_a_second_account_of_the_same_name_is_refused(run_cli, config):
    """Exit 2, and the first account is untouched."""
    add(run_cli, config, "drmartin", "medecin")
    result = users(
        run_cli, config, "add", "DrMartin", "--role", "admin",
        "--password-env", "FMT_TEST_PASSWORD",
    )  # fmt: skip
    assert result.returncode == 2
    assert "existe déjà" in result.stderr
    assert "administrateur" not in users(run_cli, config, "list").stdout


def test_a_short_password_creates_nothing(run_cli, config):
    """Under 12 characters: exit 2, no account."""
    result = users(
        run_cli, config, "add", "anne", "--role", "assistant",
        "--password-env", "FMT_TEST_PASSWORD", password="court",
    )  # fmt: skip
    assert result.returncode == 2
    assert "au moins 12 caractères" in result.stderr
    assert "anne" not in users(run_cli, config, "list").stdout


def test_without_a_terminal_nor_variable_the_password_is_not_asked(run_cli, config):
    """A script must say where the password is; nothing is created."""
    result = users(run_cli, config, "add", "anne", "--role", "assistant", password=None)
    assert result.returncode == 2
    assert "--password-env" in result.stderr


def test_an_unknown_role_is_refused_with_the_roles(run_cli, config):
    """The roles are listed in French."""
    result = users(run_cli, config, "add", "x", "--role", "secretaire")
    assert result.returncode == 2
    assert "medecin, assistant, admin" in result.stderr


def test_disable_then_enable_an_account(run_cli, config):
    """A disabled account is listed with the date; enable makes it active again."""
    add(run_cli, config, "anne", "assistant")
    assert users(run_cli, config, "disable", "anne").returncode == 0
    assert "désactivé le" in users(run_cli, config, "list").stdout
    assert users(run_cli, config, "enable", "anne").returncode == 0
    assert (
        users(run_cli, config, "list").stdout.splitlines()[2].rstrip().endswith("actif")
    )


def test_an_unknown_account_is_a_usage_error_naming_the_accounts(run_cli, config):
    """`users unlock bob` when only anne exists: exit 2, « comptes : anne »."""
    add(run_cli, config, "anne", "assistant")
    result = users(run_cli, config, "unlock", "bob")
    assert result.returncode == 2
    assert "comptes : anne" in result.stderr


def test_account_changes_are_in_the_audit_log_and_the_chain_holds(run_cli, config):
    """`audit verify` passes after the account commands."""
    add(run_cli, config, "anne", "assistant")
    users(run_cli, config, "disable", "anne")
    result = run_cli("--config", config, "audit", "verify")
    assert result.returncode == 0, result.stderr


def test_the_password_is_in_neither_the_log_nor_the_store(run_cli, config, tmp_path):
    """Not in fmt.log, not in the database file in clear."""
    add(run_cli, config, "anne", "assistant")
    users(run_cli, config, "passwd", "anne", "--password-env", "FMT_TEST_PASSWORD")
    for path in (tmp_path / "inst").iterdir():
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path.name


# --- at a terminal ------------------------------------------------------------------------


def typed(cwd: Path, *args: str, answers: list[str]) -> tuple[int, str]:
    """Run the CLI at a pseudo-terminal (getpass reads it), answering each password prompt."""
    return run_at_terminal(cwd, *args, answers=answers, prompt=b" : ")


def test_at_a_terminal_the_password_is_typed_twice_without_echo(tmp_path, config):
    """Two prompts; the password never shows on the screen; the account is created."""
    code, shown = typed(
        tmp_path, "--config", config, "users", "add", "anne", "--role", "assistant",
        answers=[PASSWORD, PASSWORD],
    )  # fmt: skip
    assert code == 0, shown
    assert "Mot de passe, une seconde fois" in shown
    assert PASSWORD not in shown
    assert "Compte « anne » créé" in shown


def test_at_a_terminal_two_different_entries_change_nothing(tmp_path, run_cli, config):
    """A typo in the second entry: exit 2, no account."""
    code, shown = typed(
        tmp_path, "--config", config, "users", "add", "anne", "--role", "assistant",
        answers=[PASSWORD, PASSWORD + "x"],
    )  # fmt: skip
    assert code == 2
    assert "les deux saisies diffèrent" in shown
    assert "anne" not in users(run_cli, config, "list").stdout
