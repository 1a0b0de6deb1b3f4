"""Private keys others may read are refused at start-up; the job store and fmt.toml are 0600."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest
from smtp_server import Pki, make_pki

from fmt_plugin.config import FmtConfig, load_config
from fmt_plugin.errors import ConfigError, KeyFileError
from fmt_plugin.mssante import read_mssante_settings
from fmt_plugin.recalls.scheduler import start_scheduler
from fmt_plugin.storage import generate_key_file
from fmt_plugin.storage.keys import load_key_file

PRIVATE_KEYS = ("mllp.tls_key", "http.tls_key", "channels.mssante.client_key")


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def tls_table(setting: str, cert: Path, key: Path) -> str:
    """The table that names `key` as `setting`, with `cert` as its certificate."""
    if setting == "channels.mssante.client_key":
        return (
            '[channels.mssante]\nhost = "mssante.example.org"\n'
            'sender = "rappels@cabinet-lilas.mssante.fr"\n'
            f'client_cert = "{cert.name}"\nclient_key = "{key.name}"\n'
            'ca_file = "ca.pem"\n'
        )
    table = setting.partition(".")[0]
    return f'[{table}]\ntls_cert = "{cert.name}"\ntls_key = "{key.name}"\n'


def write_config(folder: Path, body: str) -> Path:
    (folder / "fmt.key").write_text("{}")
    path = folder / "fmt.toml"
    path.write_text("[store]\n" + body, encoding="utf-8")
    return path


def load(path: Path) -> FmtConfig:
    """Load the configuration as start-up does, the MSSanté channel's settings included."""
    config = load_config(path)
    section = config.channel_section("mssante")
    if section is not None:
        read_mssante_settings(section)
    return config


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path)


def config_naming(pki: Pki, setting: str, key: Path | None = None) -> Path:
    key = key or pki.client_key
    return write_config(pki.folder, tls_table(setting, pki.client_cert, key))


@pytest.mark.parametrize("mode", [0o644, 0o640])
@pytest.mark.parametrize("setting", PRIVATE_KEYS)
def test_a_private_key_the_group_may_read_is_refused_naming_file_key_and_fix(
    pki, setting, mode
):
    """A key with any group or other bit stops loading with the file, setting and chmod."""
    pki.client_key.chmod(mode)
    with pytest.raises(ConfigError) as error:
        load(config_naming(pki, setting))
    assert (error.value.path, error.value.key) == (pki.client_key, setting)
    assert error.value.expected == "0600"
    assert f"permissions trop ouvertes ({mode:04o})" in str(error.value)
    assert f"« chmod 600 {pki.client_key} »" in str(error.value)


@pytest.mark.parametrize("mode", [0o600, 0o400])
@pytest.mark.parametrize("setting", PRIVATE_KEYS)
def test_a_private_key_only_its_owner_may_use_is_accepted(pki, setting, mode):
    """0600 and the stricter 0400 load."""
    pki.client_key.chmod(mode)
    load(config_naming(pki, setting))


@pytest.mark.parametrize("setting", PRIVATE_KEYS)
def test_a_certificate_anyone_may_read_is_accepted(pki, setting):
    """Certificates are public: only the key's mode is checked."""
    pki.client_cert.chmod(0o644)
    pki.ca_file.chmod(0o644)
    load(config_naming(pki, setting))


@pytest.mark.parametrize("setting", PRIVATE_KEYS)
def test_a_symbolic_link_is_judged_by_the_mode_of_its_target(pki, setting):
    """The link's own 0777 does not matter; the 0644 file it points to is refused."""
    pki.client_key.chmod(0o644)
    link = pki.folder / "lien.key"
    link.symlink_to(pki.client_key)
    with pytest.raises(ConfigError, match=r"permissions trop ouvertes \(0644\)"):
        load(config_naming(pki, setting, link))


@pytest.mark.parametrize("setting", PRIVATE_KEYS)
def test_a_symbolic_link_to_a_private_key_is_accepted(pki, setting):
    """A link (always 0777 itself) to a 0600 key loads."""
    link = pki.folder / "lien.key"
    link.symlink_to(pki.client_key)
    load(config_naming(pki, setting, link))


@pytest.mark.parametrize("setting", PRIVATE_KEYS)
def test_a_private_key_that_is_not_a_regular_file_is_refused(pki, setting):
    """A folder named as the key is refused, naming the setting."""
    folder = pki.folder / "cle.key"
    folder.mkdir(mode=0o700)
    with pytest.raises(ConfigError) as error:
        load(config_naming(pki, setting, folder))
    assert error.value.key == setting
    assert "ce n'est pas un fichier ordinaire" in str(error.value)


def test_a_tls_key_gets_the_same_message_as_the_store_key_file(pki, tmp_path):
    """Both messages, the paths aside, are the same, as is the mode expected."""
    store_key = tmp_path / "store.key"
    generate_key_file(store_key)
    store_key.chmod(0o640)
    pki.client_key.chmod(0o640)
    with pytest.raises(KeyFileError) as store_error:
        load_key_file(store_key)
    with pytest.raises(ConfigError) as tls_error:
        load(config_naming(pki, "mllp.tls_key"))
    assert store_error.value.message.replace(str(store_key), "F") == (
        tls_error.value.message.replace(str(pki.client_key), "F")
    )
    assert store_error.value.expected == tls_error.value.expected


@pytest.mark.parametrize("command", ["check-config", "serve"])
def test_the_command_refuses_a_tls_key_others_may_read_with_status_2(
    run_cli, tmp_path, command
):
    """`check-config` and `serve` stop with exit status 2 and the message on stderr."""
    assert run_cli("init", "inst").returncode == 0
    inst = tmp_path / "inst"
    pki = make_pki(inst)
    pki.client_key.chmod(0o644)
    config = inst / "fmt.toml"
    text = config.read_text(encoding="utf-8")
    text = text.replace(
        '# tls_cert = "/etc/fmt/mllp.crt"', f'tls_cert = "{pki.client_cert.name}"'
    )
    text = text.replace(
        '# tls_key = "/etc/fmt/mllp.key"', f'tls_key = "{pki.client_key.name}"'
    )
    config.write_text(text, encoding="utf-8")
    result = run_cli("--config", config, command)
    assert result.returncode == 2, result.stderr
    assert "clé « mllp.tls_key »" in result.stderr
    assert f"« chmod 600 {pki.client_key} »" in result.stderr


@pytest.fixture
def minimal_config(tmp_path: Path) -> Path:
    return write_config(tmp_path, "")


def started_and_stopped(config: Path) -> Path:
    """Start the real scheduler on `config`, stop it, and return its job store's path."""
    settings = load_config(config).recalls
    assert settings.jobstore is not None
    scheduler = start_scheduler(settings, config)
    scheduler.shutdown()
    return settings.jobstore


def test_starting_the_scheduler_creates_its_job_store_0600(minimal_config):
    """jobs.sqlite3 is its owner's only from its creation, and holds the jobs."""
    jobstore = started_and_stopped(minimal_config)
    assert mode_of(jobstore) == 0o600
    assert jobstore.stat().st_size > 0


def test_starting_the_scheduler_narrows_an_older_job_store_to_0600(
    minimal_config, caplog
):
    """A job store left 0644 by an earlier version is narrowed, with a warning."""
    jobstore = minimal_config.parent / "jobs.sqlite3"
    jobstore.touch()
    jobstore.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="fmt_plugin.recalls.scheduler"):
        started_and_stopped(minimal_config)
    assert mode_of(jobstore) == 0o600
    assert "narrowed to 0600" in caplog.text


def test_init_creates_fmt_toml_0600(run_cli, tmp_path):
    """The configuration `init` writes names where the secrets are: owner only."""
    assert run_cli("init", "inst").returncode == 0
    assert mode_of(tmp_path / "inst" / "fmt.toml") == 0o600
