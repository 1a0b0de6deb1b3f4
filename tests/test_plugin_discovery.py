"""Adapter packages are found through the `fmt_plugin.adapters` entry-point group, or refused by name."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from fmt_plugin.errors import PluginError
from fmt_plugin.hooks.host import ENTRY_POINT_GROUP, adapter_infos, build_plugin_manager

SAMPLE_ADAPTER = """
from fmt_plugin import hookimpl
from fmt_plugin.model import AdapterInfo


class SampleAdapter:
    @hookimpl
    def fmt_adapter_info(self):
        return AdapterInfo(name="sample", version="1.4.2", description="EHR de test")

    @hookimpl
    def fmt_translate_code(self, system, code):
        return None
"""


def install_package(site: Path, module: str, source: str, entry: str) -> None:
    """Lay out an installed distribution (module + dist-info with entry points) in `site`."""
    site.mkdir(exist_ok=True)
    (site / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    dist_info = site / f"{module}-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {module.replace('_', '-')}\nVersion: 1.0\n"
    )
    (dist_info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{entry}\n")


@pytest.fixture
def site(tmp_path, monkeypatch) -> Path:
    """A folder on sys.path that plays the role of site-packages."""
    path = tmp_path / "site"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))
    yield path
    for name in [m for m in sys.modules if m.startswith("sample_")]:
        del sys.modules[name]


def test_installed_adapter_is_discovered_by_entry_point(site):
    """An adapter package declaring the entry point is registered under its entry name."""
    install_package(
        site, "sample_ehr", SAMPLE_ADAPTER, "sample = sample_ehr:SampleAdapter"
    )
    pm = build_plugin_manager()
    assert pm.has_plugin("sample")
    assert [i.version for i in adapter_infos(pm) if i.name == "sample"] == ["1.4.2"]


def test_disabled_adapter_is_not_loaded(site, installation):
    """An adapter named in [plugins] disable is skipped, built-ins included."""
    from fmt_plugin.config import load_config

    install_package(
        site, "sample_ehr", SAMPLE_ADAPTER, "sample = sample_ehr:SampleAdapter"
    )
    text = installation.read_text(encoding="utf-8")
    installation.write_text(
        text.replace("disable = []", 'disable = ["sample", "code_systems"]'),
        encoding="utf-8",
    )
    pm = build_plugin_manager(load_config(installation))
    assert not pm.has_plugin("sample")
    assert not pm.has_plugin("code_systems")
    assert pm.has_plugin("csv_roster")


def test_adapter_that_fails_to_import_stops_start_up_by_name(site):
    """An entry point whose module raises at import stops start-up naming the adapter."""
    install_package(
        site, "sample_broken", "import does_not_exist\n", "broken = sample_broken"
    )
    with pytest.raises(PluginError, match="« broken »"):
        build_plugin_manager()


def test_adapter_with_unknown_hook_stops_start_up_by_name(site):
    """An installed adapter implementing a hook that does not exist is refused by name."""
    source = """
        from fmt_plugin import hookimpl

        @hookimpl
        def fmt_roster_v2(as_of):
            return None
    """
    install_package(site, "sample_typo", source, "typo = sample_typo")
    with pytest.raises(PluginError, match="« typo »"):
        build_plugin_manager()


def test_configured_module_is_loaded(site, installation):
    """A module listed in [plugins] modules is registered without an entry point."""
    from fmt_plugin.config import load_config

    module_source = """
        from fmt_plugin import hookimpl
        from fmt_plugin.model import AdapterInfo

        @hookimpl
        def fmt_adapter_info():
            return AdapterInfo(name="sample_local", version="0.1")
    """
    (site / "sample_local.py").write_text(textwrap.dedent(module_source))
    text = installation.read_text(encoding="utf-8")
    installation.write_text(text.replace("modules = []", 'modules = ["sample_local"]'))
    pm = build_plugin_manager(load_config(installation))
    assert pm.has_plugin("sample_local")
    assert "sample_local" in [i.name for i in adapter_infos(pm)]


def test_cli_lists_an_installed_adapter(run_cli, tmp_path, public_scenario):
    """check-config, run as a user would, shows an adapter installed on the Python path."""
    site = tmp_path / "site"
    install_package(
        site, "sample_ehr", SAMPLE_ADAPTER, "sample = sample_ehr:SampleAdapter"
    )
    run_cli("init", "inst", "--roster", public_scenario / "roster.csv")
    result = run_cli(
        "--config", "inst/fmt.toml", "check-config", env={"PYTHONPATH": str(site)}
    )
    assert result.returncode == 0, result.stderr
    assert "sample 1.4.2 — EHR de test" in result.stdout


def test_cli_refuses_a_broken_adapter_by_name(run_cli, tmp_path, public_scenario):
    """A broken installed adapter makes every command exit 2 with its name."""
    site = tmp_path / "site"
    install_package(
        site, "sample_broken", "raise RuntimeError('boom')\n", "broken = sample_broken"
    )
    run_cli("init", "inst", "--roster", public_scenario / "roster.csv")
    result = run_cli("--config", "inst/fmt.toml", "sync", env={"PYTHONPATH": str(site)})
    assert result.returncode == 2
    assert "« broken »" in result.stderr
    assert "Traceback" not in result.stderr
