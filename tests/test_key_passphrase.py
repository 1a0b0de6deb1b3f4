"""`fmt-plugin keys passphrase`, and a sealed key file unlocked by a passphrase typed unseen."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import CliResult, RunCli, raw
from terminal import run_at_terminal

from fmt_plugin.errors import KeyFileError
from fmt_plugin.storage import load_key_file

PASSPHRASE = "cheval agrafe pile correcte"
OTHER = "une autre phrase bien longue"
#: How long a terminal session may take before the test gives up on it.
PTY_TIMEOUT_S = 60


def key_file(config: Path) -> Path:
    return config.parent / "fmt.key"


def passphrase(run_cli: RunCli, config: Path, *args: str, **env: str) -> CliResult:
    return run_cli("--config", config, "keys", "passphrase", *args, env=env or None)


def use_passphrase_variable(config: Path, variable: str) -> None:
    """What the operator does after sealing: point `[store] key_passphrase` at it."""
    text = config.read_text(encoding="utf-8")
    line = '# key_passphrase = { "$env" = "FMT_KEY_PASSPHRASE" }'
    assert line in text
    config.write_text(
        text.replace(line, f'key_passphrase = {{ "$env" = "{variable}" }}'),
        encoding="utf-8",
    )


def protection(config: Path) -> str:
    return json.loads(key_file(config).read_text())["protection"]["kind"]


def last_action(config: Path) -> tuple[str, str]:
    with raw(config.parent / "fmt.sqlite3") as conn:
        return conn.execute(
            "SELECT action, detail FROM audit_log ORDER BY seq DESC LIMIT 1"
        ).fetchone()


@pytest.fixture
def sealed(installation: Path, run_cli: RunCli) -> Path:
    """An installation whose key file is sealed under PASSPHRASE, read from FMT_KEY_PASSPHRASE."""
    result = passphrase(run_cli, installation, "--nouvelle-env", "NEW", NEW=PASSPHRASE)
    assert result.returncode == 0, result.stderr
    use_passphrase_variable(installation, "FMT_KEY_PASSPHRASE")
    return installation


def on_terminal(config: Path, *args: str, answers: list[str]) -> tuple[int, str]:
    """`fmt-plugin --config CONFIG ARGS` at a terminal, typing `answers` at its prompts."""
    return run_at_terminal(
        config.parent, "--config", config, *args, answers=answers, prompt=b" : "
    )


# --- from environment variables ------------------------------------------------------------


def test_adding_a_passphrase_seals_the_key_file_under_it(sealed):
    assert protection(sealed) == "scrypt-aes256gcm"
    assert load_key_file(key_file(sealed), passphrase=PASSPHRASE)
    with pytest.raises(KeyFileError, match="requise"):
        load_key_file(key_file(sealed))


def test_the_keys_do_not_change_with_the_passphrase(installation, run_cli):
    before = load_key_file(key_file(installation))
    result = passphrase(run_cli, installation, "--nouvelle-env", "NEW", NEW=PASSPHRASE)
    assert result.returncode == 0, result.stderr
    after = load_key_file(key_file(installation), passphrase=PASSPHRASE)
    assert after == before


def test_a_sealed_installation_runs_with_its_passphrase_variable(sealed, run_cli):
    result = run_cli(
        "--config", sealed, "report", env={"FMT_KEY_PASSPHRASE": PASSPHRASE}
    )
    assert result.returncode == 0, result.stderr


def test_changing_the_passphrase_makes_the_old_one_useless(sealed, run_cli):
    result = passphrase(
        run_cli,
        sealed,
        "--nouvelle-env",
        "NEW",
        NEW=OTHER,
        FMT_KEY_PASSPHRASE=PASSPHRASE,
    )
    assert result.returncode == 0, result.stderr
    assert "Phrase secrète changée" in result.stdout
    assert load_key_file(key_file(sealed), passphrase=OTHER)
    with pytest.raises(KeyFileError, match="incorrecte"):
        load_key_file(key_file(sealed), passphrase=PASSPHRASE)


def test_removing_the_passphrase_leaves_the_file_protected_by_its_mode_only(
    sealed, run_cli
):
    result = passphrase(run_cli, sealed, "--supprimer", FMT_KEY_PASSPHRASE=PASSPHRASE)
    assert result.returncode == 0, result.stderr
    assert protection(sealed) == "none"
    assert key_file(sealed).stat().st_mode & 0o777 == 0o600
    assert "Retirez « key_passphrase »" in result.stdout


def test_each_change_of_passphrase_is_audited_without_the_passphrase(sealed):
    action, detail = last_action(sealed)
    assert action == "keys.passphrase"
    assert detail == "protected=yes before=no"
    assert PASSPHRASE not in detail


def test_a_wrong_current_passphrase_changes_nothing(sealed, run_cli):
    before = key_file(sealed).read_bytes()
    result = passphrase(
        run_cli,
        sealed,
        "--nouvelle-env",
        "NEW",
        NEW=OTHER,
        FMT_KEY_PASSPHRASE="pas la bonne phrase",
    )
    assert result.returncode == 2
    assert "phrase secrète incorrecte" in result.stderr
    assert key_file(sealed).read_bytes() == before


def test_a_short_new_passphrase_is_refused(installation, run_cli):
    result = passphrase(run_cli, installation, "--nouvelle-env", "NEW", NEW="court")
    assert result.returncode == 2
    assert "au moins 12 caractères" in result.stderr
    assert protection(installation) == "none"


def test_an_empty_or_absent_variable_is_refused_by_name(installation, run_cli):
    result = passphrase(run_cli, installation, "--nouvelle-env", "ABSENTE")
    assert result.returncode == 2
    assert "la variable ABSENTE est vide ou absente" in result.stderr


def test_without_a_terminal_or_a_variable_the_new_passphrase_is_asked_for_by_variable(
    installation, run_cli
):
    result = passphrase(run_cli, installation)
    assert result.returncode == 2
    assert "--nouvelle-env" in result.stderr
    assert protection(installation) == "none"


def test_removing_a_passphrase_that_is_not_there_changes_nothing(installation, run_cli):
    before = key_file(installation).read_bytes()
    result = passphrase(run_cli, installation, "--supprimer")
    assert result.returncode == 0
    assert "rien à supprimer" in result.stdout
    assert key_file(installation).read_bytes() == before


def test_a_sealed_key_file_without_its_variable_and_no_terminal_says_it_is_required(
    installation, run_cli
):
    result = passphrase(run_cli, installation, "--nouvelle-env", "NEW", NEW=PASSPHRASE)
    assert result.returncode == 0, result.stderr
    refused = run_cli("--config", installation, "report")
    assert refused.returncode == 2
    assert "la phrase secrète est requise" in refused.stderr


# --- typed at a terminal ---------------------------------------------------------------------


def test_a_new_passphrase_typed_twice_at_a_terminal_seals_the_file_and_is_never_shown(
    installation,
):
    status, screen = on_terminal(
        installation, "keys", "passphrase", answers=[PASSPHRASE, PASSPHRASE]
    )
    assert status == 0, screen
    assert "Nouvelle phrase secrète" in screen
    assert "Confirmez" in screen
    assert PASSPHRASE not in screen
    assert load_key_file(key_file(installation), passphrase=PASSPHRASE)


def test_two_different_typings_leave_the_key_file_as_it_was(installation):
    before = key_file(installation).read_bytes()
    status, screen = on_terminal(
        installation, "keys", "passphrase", answers=[PASSPHRASE, OTHER]
    )
    assert status == 2
    assert "les deux saisies diffèrent" in screen
    assert key_file(installation).read_bytes() == before


def test_a_command_at_a_terminal_asks_for_the_passphrase_the_configuration_does_not_give(
    installation, run_cli
):
    result = passphrase(run_cli, installation, "--nouvelle-env", "NEW", NEW=PASSPHRASE)
    assert result.returncode == 0, result.stderr
    status, screen = on_terminal(installation, "keys", "status", answers=[PASSPHRASE])
    assert status == 0, screen
    assert "Phrase secrète du fichier de clés" in screen
    assert "protégé par une phrase secrète" in screen
    assert PASSPHRASE not in screen


def test_a_wrong_passphrase_typed_at_a_terminal_is_refused(installation, run_cli):
    result = passphrase(run_cli, installation, "--nouvelle-env", "NEW", NEW=PASSPHRASE)
    assert result.returncode == 0, result.stderr
    status, screen = on_terminal(installation, "keys", "status", answers=[OTHER])
    assert status == 2
    assert "phrase secrète incorrecte" in screen
