"""The configuration file: every setting validated, errors naming file, key and expectation."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from fmt_plugin.config import Section, config_path_from, load_config
from fmt_plugin.errors import ConfigError, ExitStatus
from fmt_plugin.scaffold import render_config


def write_config(tmp_path: Path, body: str) -> Path:
    (tmp_path / "fmt.key").write_text("{}")
    path = tmp_path / "fmt.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_minimal_config_takes_the_defaults(tmp_path):
    """A config with only a [store] table gets the documented defaults."""
    config = load_config(write_config(tmp_path, "[store]\n"))
    assert config.store.path == tmp_path / "fmt.sqlite3"
    assert config.store.key_file == tmp_path / "fmt.key"
    assert config.logging.level == "INFO"
    assert config.plugins.modules == ()


def test_relative_paths_resolve_against_the_config_folder(tmp_path):
    """Relative paths are taken from the configuration file's folder, not the cwd."""
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "k").write_text("{}")
    path = tmp_path / "fmt.toml"
    path.write_text('[store]\npath = "data/db.sqlite3"\nkey_file = "keys/k"\n')
    config = load_config(path)
    assert config.store.path == tmp_path / "data" / "db.sqlite3"
    assert config.store.key_file == tmp_path / "keys" / "k"


def test_unknown_key_is_named_with_a_suggestion(tmp_path):
    """A typo in a key is refused, naming the file, the dotted key and the likely intent."""
    path = write_config(tmp_path, '[store]\npth = "x.sqlite3"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message
    assert "store.pth" in message
    assert "store.path" in message


def test_unknown_section_is_refused(tmp_path):
    """An unknown top-level table is refused by name."""
    path = write_config(tmp_path, "[store]\n[stor]\n")
    with pytest.raises(ConfigError, match="« stor »"):
        load_config(path)


def test_wrong_type_names_the_key_and_the_expected_type(tmp_path):
    """A value of the wrong type says what was expected."""
    path = write_config(tmp_path, "[store]\n[logging]\njson = 1\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key == "logging.json"
    assert info.value.expected == "true ou false"


def test_value_outside_choices_is_refused(tmp_path):
    """A log level outside the list is refused with the list."""
    path = write_config(tmp_path, '[store]\n[logging]\nlevel = "LOUD"\n')
    with pytest.raises(ConfigError, match="'DEBUG'"):
        load_config(path)


def test_missing_key_file_is_named(tmp_path):
    """A key file that does not exist is reported with its key and path."""
    path = tmp_path / "fmt.toml"
    path.write_text('[store]\nkey_file = "absent.key"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key == "store.key_file"
    assert "absent.key" in str(info.value)


def test_missing_config_file_is_reported(tmp_path):
    """A configuration path that does not exist is a ConfigError naming it."""
    with pytest.raises(ConfigError, match="introuvable"):
        load_config(tmp_path / "nope.toml")


def test_toml_syntax_error_gives_the_line(tmp_path):
    """A TOML syntax error reports the file and the line."""
    path = write_config(tmp_path, "[store]\npath = \n")
    with pytest.raises(ConfigError, match="line 2"):
        load_config(path)


def test_missing_store_table_is_required(tmp_path):
    """The [store] table is mandatory."""
    path = write_config(tmp_path, "[logging]\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key == "store"


def test_secret_from_environment(tmp_path, monkeypatch):
    """A secret given as { "$env" = VAR } is read from the environment."""
    monkeypatch.setenv("FMT_TEST_PASS", "s3cret")
    body = '[store]\nkey_passphrase = { "$env" = "FMT_TEST_PASS" }\n'
    config = load_config(write_config(tmp_path, body))
    assert config.store.key_passphrase == "s3cret"
    assert "s3cret" not in repr(config)


def test_secret_from_file(tmp_path):
    """A secret given as { "$file" = path } is read from that file, stripped."""
    (tmp_path / "pass.txt").write_text("from-file\n")
    body = '[store]\nkey_passphrase = { "$file" = "pass.txt" }\n'
    config = load_config(write_config(tmp_path, body))
    assert config.store.key_passphrase == "from-file"


def test_secret_in_clear_is_refused(tmp_path):
    """A secret written in clear in the file is refused."""
    path = write_config(tmp_path, '[store]\nkey_passphrase = "hunter2"\n')
    with pytest.raises(ConfigError, match="en clair") as info:
        load_config(path)
    assert "hunter2" not in str(info.value)


def test_secret_from_unset_variable_is_named(tmp_path, monkeypatch):
    """An $env reference to an unset variable names the variable."""
    monkeypatch.delenv("FMT_UNSET_VAR", raising=False)
    body = '[store]\nkey_passphrase = { "$env" = "FMT_UNSET_VAR" }\n'
    with pytest.raises(ConfigError, match="FMT_UNSET_VAR"):
        load_config(write_config(tmp_path, body))


def test_config_errors_exit_with_usage_status():
    """Configuration errors map to exit status 2."""
    assert ConfigError("x").exit_status == ExitStatus.USAGE == 2


def test_config_path_comes_from_environment_when_no_option(tmp_path):
    """FMT_CONFIG names the configuration when --config is absent."""
    assert config_path_from(None, {"FMT_CONFIG": "/a/fmt.toml"}) == Path("/a/fmt.toml")
    assert config_path_from("/b.toml", {"FMT_CONFIG": "/a.toml"}) == Path("/b.toml")


def test_no_config_path_at_all_is_a_config_error():
    """Without --config nor FMT_CONFIG the command says how to give one."""
    with pytest.raises(ConfigError, match="FMT_CONFIG"):
        config_path_from(None, {})


def test_adapter_section_reports_its_own_unknown_keys(tmp_path):
    """An adapter's table checks its keys with the adapter's dotted prefix."""
    body = '[store]\n[adapters.vendor_x]\nurl = "http://ehr"\ntoken_typo = 1\n'
    config = load_config(write_config(tmp_path, body))
    section = config.adapter_section("vendor_x")
    assert section is not None
    assert section.string("url") == "http://ehr"
    with pytest.raises(ConfigError, match=r"adapters\.vendor_x\.token_typo"):
        section.finish()
    assert config.adapter_section("other") is None


def test_rendered_config_is_valid_without_roster(tmp_path):
    """The file `init` writes loads cleanly when no roster is configured."""
    (tmp_path / "fmt.key").write_text("{}")
    path = tmp_path / "fmt.toml"
    path.write_text(render_config(store_path="fmt.sqlite3", key_file="fmt.key"))
    config = load_config(path)
    assert config.adapter_tables == {}


def test_example_config_in_the_repository_is_valid(tmp_path):
    """config/fmt-plugin.example.toml is what `init` writes, and it validates."""
    example = Path(__file__).parents[1] / "config" / "fmt-plugin.example.toml"
    text = example.read_text(encoding="utf-8")
    assert text == render_config(
        store_path="fmt.sqlite3",
        key_file="fmt.key",
        roster=Path("/srv/fmt/export/patients.csv"),
        acts=Path("/srv/fmt/export/actes.csv"),
        practice_name="Cabinet médical des Tilleuls",
    )
    (tmp_path / "fmt.key").write_text("{}")
    copy = tmp_path / "fmt.toml"
    copy.write_text(text, encoding="utf-8")
    config = load_config(copy)
    assert set(config.adapter_tables) == {"csv_roster"}


def test_rules_default_to_the_shipped_pack(tmp_path):
    """Without [rules], the pack is fmt-2026 and there is no practice file."""
    config = load_config(write_config(tmp_path, "[store]\n"))
    assert config.rules.pack == "fmt-2026"
    assert config.rules.files == ()


def test_rules_files_resolve_against_the_config_folder(tmp_path):
    """A practice pack named in [rules] files is found next to the configuration."""
    (tmp_path / "cabinet.toml").write_text("")
    config = load_config(
        write_config(tmp_path, '[store]\n[rules]\nfiles = ["cabinet.toml"]\n')
    )
    assert config.rules.files == (tmp_path / "cabinet.toml",)


def test_a_missing_rules_file_is_named(tmp_path):
    """A pack file that does not exist stops with the key and the path."""
    path = write_config(tmp_path, '[store]\n[rules]\nfiles = ["absent.toml"]\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "rules.files" in str(info.value)
    assert "absent.toml" in str(info.value)


def test_an_unknown_rule_pack_id_is_refused_with_the_known_ones(tmp_path):
    """[rules] pack naming no offered pack stops with the ids that exist."""
    from fmt_plugin.evaluation import select_rule_pack
    from fmt_plugin.hooks.host import build_plugin_manager

    config = load_config(
        write_config(tmp_path, '[store]\n[rules]\npack = "fmt-2027"\n')
    )
    pm = build_plugin_manager(config, load_entry_points=False)
    with pytest.raises(ConfigError) as info:
        select_rule_pack(config, pm)
    assert "rules.pack" in str(info.value)
    assert "fmt-2026" in str(info.value)


def test_the_mllp_listener_defaults_to_localhost_and_16_mib(tmp_path):
    """Without [mllp] the listener binds 127.0.0.1:2575 with a 16 MiB limit and no TLS."""
    config = load_config(write_config(tmp_path, "[store]\n"))
    assert (config.mllp.host, config.mllp.port) == ("127.0.0.1", 2575)
    assert config.mllp.max_message_bytes == 16 * 1024 * 1024
    assert config.mllp.tls_cert is None
    assert (config.hl7.parser, config.hl7.unsupported_version_ack) == ("er7", "AR")


def test_mllp_settings_are_read(tmp_path):
    """Every [mllp] key is read, TLS paths resolved against the config folder."""
    (tmp_path / "c.pem").write_text("x")
    (tmp_path / "k.pem").write_text("x")
    (tmp_path / "k.pem").chmod(0o600)
    (tmp_path / "ca.pem").write_text("x")
    config = load_config(
        write_config(
            tmp_path,
            '[store]\n[mllp]\nhost = "0.0.0.0"\nport = 2600\nidle_timeout_s = 30\n'
            'tls_cert = "c.pem"\ntls_key = "k.pem"\ntls_client_ca = "ca.pem"\n'
            'tls_client_subjects = ["CN=passerelle,O=Labo"]\n',
        )
    )
    assert (config.mllp.host, config.mllp.port) == ("0.0.0.0", 2600)  # noqa: S104
    assert config.mllp.idle_timeout_s == 30.0
    assert config.mllp.tls_client_ca == tmp_path / "ca.pem"
    assert config.mllp.tls_client_subjects == ("CN=passerelle,O=Labo",)


def test_a_tls_certificate_without_its_key_is_refused_naming_the_key(tmp_path):
    """TLS needs both the certificate and its key."""
    (tmp_path / "c.pem").write_text("x")
    path = write_config(tmp_path, '[store]\n[mllp]\ntls_cert = "c.pem"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.key == "mllp.tls_key"


def test_a_missing_tls_file_is_named(tmp_path):
    """A TLS file that does not exist is named with its key."""
    path = write_config(tmp_path, '[store]\n[mllp]\ntls_cert = "absent.pem"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.key == "mllp.tls_cert"
    assert "absent.pem" in str(caught.value)


def test_a_port_out_of_range_is_refused(tmp_path):
    """A port above 65535 is refused."""
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, "[store]\n[mllp]\nport = 70000\n"))
    assert caught.value.key == "mllp.port"


def test_an_unknown_hl7_parser_is_refused_with_the_choices(tmp_path):
    """An unknown parser name lists the two accepted ones."""
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, '[store]\n[hl7]\nparser = "fast"\n'))
    assert caught.value.key == "hl7.parser"
    assert "hl7apy" in str(caught.value)


def test_recalls_default_to_the_issue_policy(tmp_path):
    """Without [recalls]: 30 days ahead, a reminder after 30 days, two steps, 08:00–19:00."""
    recalls = load_config(write_config(tmp_path, "[store]\n")).recalls
    assert (recalls.policy.lead_days, recalls.policy.reminder_after_days) == (30, 30)
    assert recalls.policy.max_steps == 2
    assert (f"{recalls.sending_from:%H:%M}", f"{recalls.sending_until:%H:%M}") == (
        "08:00",
        "19:00",
    )
    assert "sun" not in recalls.sending_days
    assert recalls.jobstore == tmp_path / "jobs.sqlite3"
    assert not recalls.policy.catch_up  # rattrapages: no recall unless asked for


def test_recalls_settings_are_read(tmp_path):
    """Every [recalls] key is read."""
    recalls = load_config(
        write_config(
            tmp_path,
            '[store]\n[recalls]\nlead_days = 15\nmax_steps = 3\nplanning_time = "07:30"\n'
            'sending_days = ["fri", "mon"]\nalsace_moselle = true\nmax_attempts = 4\n'
            "catch_up = true\n",
        )
    ).recalls
    assert recalls.policy.catch_up
    assert (recalls.policy.lead_days, recalls.policy.max_steps) == (15, 3)
    assert f"{recalls.planning_time:%H:%M}" == "07:30"
    assert recalls.sending_days == ("mon", "fri")
    assert recalls.alsace_moselle
    assert recalls.max_attempts == 4


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ('planning_time = "8h"', "recalls.planning_time"),
        ('sending_days = ["lundi"]', "recalls.sending_days"),
        ('sending_from = "19:00"\nsending_until = "08:00"', "recalls.sending_until"),
        ("max_steps = 0", "recalls.max_steps"),
        ("retry_base_s = 600\nretry_max_s = 60", "recalls.retry_max_s"),
        ("lead_dayz = 3", "recalls.lead_dayz"),
        ('catch_up = "oui"', "recalls.catch_up"),
    ],
)
def test_bad_recalls_settings_name_their_key(tmp_path, body, key):
    """A wrong [recalls] value stops loading, naming the key."""
    with pytest.raises(ConfigError) as raised:
        load_config(write_config(tmp_path, f"[store]\n[recalls]\n{body}\n"))
    assert raised.value.key == key


def test_http_and_service_default_to_a_loopback_status_page_and_ten_seconds(tmp_path):
    """Without `[http]`/`[service]`: status on 127.0.0.1:8575, a 10 s shutdown bound."""
    config = load_config(write_config(tmp_path, "[store]\n"))
    assert (config.http.enabled, config.http.host, config.http.port) == (
        True,
        "127.0.0.1",
        8575,
    )
    assert config.service.shutdown_timeout_s == 10.0


def test_http_port_out_of_range_is_named(tmp_path):
    """`[http] port = 70000` is refused, naming `http.port`."""
    with pytest.raises(ConfigError) as error:
        load_config(write_config(tmp_path, "[store]\n[http]\nport = 70000\n"))
    assert error.value.key == "http.port"


def test_a_dashboard_on_the_network_without_tls_is_refused(tmp_path):
    """`[http] host = "0.0.0.0"` without a certificate: patient pages in clear, refused."""
    with pytest.raises(ConfigError) as error:
        load_config(write_config(tmp_path, '[store]\n[http]\nhost = "0.0.0.0"\n'))
    assert error.value.key == "http.host"
    assert "exige TLS" in str(error.value)


def test_a_dashboard_on_the_network_with_tls_is_accepted(tmp_path):
    """With `tls_cert` and `tls_key`, any address may be used."""
    (tmp_path / "d.crt").write_text("cert")
    (tmp_path / "d.key").write_text("key")
    (tmp_path / "d.key").chmod(0o600)
    body = '[store]\n[http]\nhost = "0.0.0.0"\ntls_cert = "d.crt"\ntls_key = "d.key"\n'
    config = load_config(write_config(tmp_path, body))
    assert config.http.tls_cert == tmp_path / "d.crt"
    assert not config.http.loopback_only


def test_a_dashboard_certificate_without_its_key_is_named(tmp_path):
    (tmp_path / "d.crt").write_text("cert")
    with pytest.raises(ConfigError) as error:
        load_config(write_config(tmp_path, '[store]\n[http]\ntls_cert = "d.crt"\n'))
    assert error.value.key == "http.tls_key"


def test_a_disabled_dashboard_may_name_any_address(tmp_path):
    """Nothing listens when `enabled = false`: the address is not checked."""
    config = load_config(
        write_config(tmp_path, '[store]\n[http]\nenabled = false\nhost = "0.0.0.0"\n')
    )
    assert not config.http.enabled


@pytest.mark.parametrize(
    "key", ["session_idle_minutes", "login_max_failures", "login_lockout_minutes"]
)
def test_dashboard_session_settings_are_positive(tmp_path, key):
    with pytest.raises(ConfigError) as error:
        load_config(write_config(tmp_path, f"[store]\n[http]\n{key} = 0\n"))
    assert error.value.key == f"http.{key}"


@pytest.mark.parametrize("value", ["0", "-1", "true", '"10"'])
def test_shutdown_timeout_must_be_a_positive_number(tmp_path, value):
    """`[service] shutdown_timeout_s` is a number of seconds > 0."""
    with pytest.raises(ConfigError) as error:
        load_config(
            write_config(
                tmp_path, f"[store]\n[service]\nshutdown_timeout_s = {value}\n"
            )
        )
    assert error.value.key == "service.shutdown_timeout_s"


def _documented_keys(text: str) -> set[str]:
    """`table.key` of every setting the file shows, set or commented out."""
    keys, table = set(), ""
    for line in text.splitlines():
        setting = line.removeprefix("# ").strip()
        if header := re.fullmatch(r"\[([a-z0-9_.]+)\]", setting):
            table = header.group(1)
        elif key := re.fullmatch(r"([a-z_]+) = .+", setting):
            keys.add(f"{table}.{key.group(1)}")
    return keys


def test_example_config_shows_every_setting_the_program_reads(
    tmp_path, monkeypatch, public_scenario
):
    """Each key any table's reader asks for (MSSanté's included) is in the example file."""
    from smtp_server import make_pki

    from fmt_plugin.hooks.host import build_plugin_manager

    asked: set[str] = set()
    original = Section._get

    def recording(self: Section, key: str, default: Any, expected: str) -> Any:
        asked.add(self.dotted(key))
        return original(self, key, default, expected)

    monkeypatch.setattr(Section, "_get", recording)
    pki = make_pki(tmp_path)
    (tmp_path / "fmt.key").write_text("{}")
    config_path = tmp_path / "fmt.toml"
    config_path.write_text(
        render_config(
            store_path="fmt.sqlite3",
            key_file="fmt.key",
            roster=public_scenario / "roster.csv",
            acts=public_scenario / "acts.csv",
        )
        + "\n[channels.mssante]\n"
        'host = "127.0.0.1"\nsender = "cabinet@medecin.mssante.fr"\n'
        f'client_cert = "{pki.client_cert}"\nclient_key = "{pki.client_key}"\n'
        f'ca_file = "{pki.ca_file}"\n',
        encoding="utf-8",
    )
    build_plugin_manager(load_config(config_path), load_entry_points=False)
    tables = {key.rpartition(".")[0] for key in asked}
    settings = {key for key in asked if key not in tables and "." in key}
    example = Path(__file__).parents[1] / "config" / "fmt-plugin.example.toml"
    missing = settings - _documented_keys(example.read_text(encoding="utf-8"))
    assert missing == set()
