"""The kit's pytest fixtures: a real installation configured with the vendor's adapter.

The adapter under test is named by `fmt_adapter_name` and configured by `fmt_adapter_config`
(the body of its `[adapters.NAME]` table). Both read the attributes of the test class (see
`AdapterConformance`); a vendor testing with plain functions overrides them in its conftest.
The installation is made by `init_installation` and opened by `open_installation`, as the
`init` and `sync` commands do, so the plugin manager is the one the real host builds, entry
points included.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pluggy
import pytest

from fmt_plugin.config import FmtConfig, load_config
from fmt_plugin.errors import FmtError
from fmt_plugin.installation import Installation, open_installation
from fmt_plugin.model import RosterBatch
from fmt_plugin.scaffold import InitOptions, init_installation
from fmt_plugin.testing.checks import ACTOR, roster_batch

#: The date the checks ask the roster for when the test class gives none (fixed, so that a
#: sample export's birth dates and acts do not drift into the future of the checks).
DEFAULT_AS_OF = date(2026, 1, 15)

AdapterConfig = str | Mapping[str, Any]


def _class_setting(request: pytest.FixtureRequest, attribute: str) -> Any:
    """The test class's `attribute`; a usage error naming it when there is none."""
    value = getattr(request.cls, attribute, None) if request.cls else None
    if value is None:
        pytest.fail(
            f"fmt_plugin.testing: set `{attribute}` on your AdapterConformance subclass, "
            f"or override the fixture `fmt_{attribute}` in your conftest.py",
            pytrace=False,
        )
    return value


@pytest.fixture
def fmt_adapter_name(request: pytest.FixtureRequest) -> str:
    """The adapter under test: its entry-point name, which is also its `[adapters.NAME]`."""
    name = _class_setting(request, "adapter_name")
    if not isinstance(name, str) or not name:
        pytest.fail("fmt_plugin.testing: adapter_name must be a non-empty string")
    return name


@pytest.fixture
def fmt_adapter_config(request: pytest.FixtureRequest) -> AdapterConfig:
    """The body of the adapter's `[adapters.NAME]` table: TOML text, or a mapping of values.

    Relative paths in it are resolved, as in any `fmt.toml`, against the installation's folder
    (a temporary one): give absolute paths for the sample export.
    """
    config: AdapterConfig = _class_setting(request, "adapter_config")
    return config


@pytest.fixture
def fmt_extra_config(request: pytest.FixtureRequest) -> str:
    """More TOML appended to the installation's `fmt.toml` (e.g. a `[channels.*]` table)."""
    return str(getattr(request.cls, "extra_config", "") or "")


@pytest.fixture
def fmt_as_of(request: pytest.FixtureRequest) -> date:
    """The date the roster is asked for and the practice evaluated at."""
    as_of = getattr(request.cls, "as_of", None)
    return as_of if isinstance(as_of, date) else DEFAULT_AS_OF


@pytest.fixture
def fmt_translated_codes(request: pytest.FixtureRequest) -> Sequence[tuple[str, str]]:
    """(system, code) pairs the adapter's `fmt_translate_code` must translate."""
    return tuple(getattr(request.cls, "translated_codes", ()) or ())


@pytest.fixture
def fmt_installation_path(
    tmp_path: Path,
    fmt_adapter_name: str,
    fmt_adapter_config: AdapterConfig,
    fmt_extra_config: str,
) -> Path:
    """A new installation (key file, empty store, `fmt.toml` with the adapter's table).

    The CSV adapter is left unconfigured, so the store only gets what the adapter gives.
    Returns the path of `fmt.toml`.
    """
    block = adapter_block(fmt_adapter_name, fmt_adapter_config)
    if fmt_extra_config:
        block += "\n" + fmt_extra_config.strip() + "\n"
    return init_installation(
        InitOptions(
            directory=tmp_path / "fmt-installation",
            adapter_block=block,
            origin=fmt_adapter_name,
        ),
        actor=ACTOR,
    )


@pytest.fixture
def fmt_config(fmt_installation_path: Path) -> FmtConfig:
    """The installation's configuration, validated as every command reads it."""
    try:
        return load_config(fmt_installation_path)
    except FmtError as exc:
        pytest.fail(f"the sample configuration is invalid: {exc}", pytrace=False)


@pytest.fixture
def fmt_installation(
    fmt_installation_path: Path, fmt_adapter_name: str
) -> Iterator[Installation]:
    """The installation opened as a command opens it: store, keys, configured adapters."""
    try:
        installation = open_installation(fmt_installation_path)
    except FmtError as exc:
        pytest.fail(
            f"the installation configured for adapter {fmt_adapter_name!r} does not "
            f"open: {exc}\n(check the entry point with check_entry_point and the "
            "loading with check_adapter_loads)",
            pytrace=False,
        )
    with installation:
        yield installation


@pytest.fixture
def fmt_plugin_manager(fmt_installation: Installation) -> pluggy.PluginManager:
    """The plugin manager of the open installation, built by the real host."""
    return fmt_installation.pm


@pytest.fixture
def fmt_roster_batch(
    fmt_plugin_manager: pluggy.PluginManager, fmt_adapter_name: str, fmt_as_of: date
) -> RosterBatch:
    """The adapter's own `fmt_roster(as_of)` answer (skips when it has no roster hook)."""
    return roster_batch(fmt_plugin_manager, fmt_adapter_name, fmt_as_of)


def adapter_block(name: str, config: AdapterConfig) -> str:
    """The `[adapters.NAME]` table for `config` (TOML text, or a mapping rendered to TOML)."""
    if isinstance(config, str):
        body = config.strip()
    else:
        body = "\n".join(
            f"{_toml_key(key)} = {_toml_value(value)}" for key, value in config.items()
        )
    return f"[adapters.{_toml_key(name)}]\n{body}\n"


def _toml_key(key: str) -> str:
    bare = key.replace("_", "").replace("-", "").isalnum() and key.isascii()
    return key if bare else json.dumps(key)


def _toml_value(value: Any) -> str:
    """A TOML literal for a simple setting value (string, path, number, bool, date, list)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str | Path):
        # JSON string escapes are valid TOML basic-string escapes (Windows paths included).
        return json.dumps(str(value), ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        items = ", ".join(
            f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()
        )
        return "{ " + items + " }"
    raise TypeError(f"fmt_plugin.testing: no TOML form for a {type(value).__name__}")
