"""`[practice] zone`, `primo_installation_date`, `doctor_birth_date`: the socle's majorations."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from fmt_plugin.config import DoctorSituation, load_config
from fmt_plugin.errors import ConfigError


def config_with(tmp_path: Path, practice: str) -> Path:
    (tmp_path / "fmt.key").write_text("{}")
    path = tmp_path / "fmt.toml"
    path.write_text(f"[practice]\n{practice}\n[store]\n", encoding="utf-8")
    return path


def test_absent_keys_mean_no_majoration(tmp_path):
    """Without the keys: no zone, no primo-installation, no doctor's age."""
    config = load_config(config_with(tmp_path, ""))
    assert config.practice.doctor_situation == DoctorSituation()


def test_keys_are_read_as_written(tmp_path):
    """`zone`, and the two dates written as TOML dates, are read into the situation."""
    body = (
        'zone = "qpv"\nprimo_installation_date = 2025-09-01\n'
        "doctor_birth_date = 1958-12-31"
    )
    config = load_config(config_with(tmp_path, body))
    assert config.practice.doctor_situation == DoctorSituation(
        "qpv", date(2025, 9, 1), date(1958, 12, 31)
    )


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ('zone = "zrr"', "practice.zone"),
        ('primo_installation_date = "01/09/2025"', "practice.primo_installation_date"),
        ("doctor_birth_date = 1958", "practice.doctor_birth_date"),
    ],
)
def test_bad_value_names_file_and_key(tmp_path, line, key):
    """A zone that is not aucune/zip/qpv, or a date in quotes, names the file and the key."""
    path = config_with(tmp_path, line)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert (caught.value.path, caught.value.key) == (path, key)
