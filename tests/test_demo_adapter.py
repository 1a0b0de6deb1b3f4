"""The built-in `demo` adapter through the plugin host, configured by `[adapters.demo]`."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pluggy
import pytest

from fmt_plugin.adapters.demo import config_block
from fmt_plugin.config import load_config
from fmt_plugin.demo.practice import DemoSettings
from fmt_plugin.errors import ConfigError
from fmt_plugin.hooks.host import adapter_infos, build_plugin_manager
from fmt_plugin.roster import collect_roster
from fmt_plugin.testing import checks

REFERENCE = date(2026, 3, 15)
SMALL = DemoSettings(reference_date=REFERENCE, seed=11, patients=200)


def manager(tmp_path: Path, adapters: str) -> pluggy.PluginManager:
    """The plugin host on an fmt.toml whose adapters part is `adapters`."""
    (tmp_path / "fmt.key").write_bytes(b"")
    path = tmp_path / "fmt.toml"
    path.write_text(f'[store]\nkey_file = "fmt.key"\n\n{adapters}', "utf-8")
    return build_plugin_manager(load_config(path), load_entry_points=False)


@pytest.fixture
def configured(tmp_path: Path) -> pluggy.PluginManager:
    return manager(tmp_path, config_block(SMALL))


def test_demo_adapter_is_built_in(tmp_path: Path):
    """The adapter is registered and names itself, even when not configured."""
    pm = manager(tmp_path, "")
    assert "demo" in {info.name for info in adapter_infos(pm)}


def test_unconfigured_demo_adapter_is_inactive(tmp_path: Path):
    """Without `[adapters.demo]`, no roster and no acts come from it."""
    pm = manager(tmp_path, "")
    assert collect_roster(pm, REFERENCE).sources == ()
    assert pm.hook.fmt_patient_acts(patient_id="P000001", since=None) == []


def test_roster_has_the_configured_patients(configured: pluggy.PluginManager):
    """The roster batch holds `patients` patients from source `demo`, no problem."""
    roster = collect_roster(configured, REFERENCE)
    assert roster.sources == ("demo",)
    assert len(roster.patients) == 200
    assert roster.problems == ()


def test_roster_does_not_depend_on_the_day_asked(configured: pluggy.PluginManager):
    """A later as_of gives the same patients: the practice is anchored to its date."""
    now = collect_roster(configured, REFERENCE).patients
    later = collect_roster(configured, date(2027, 1, 4)).patients
    assert [p.to_dict() for p in later] == [p.to_dict() for p in now]


def test_acts_of_a_patient_oldest_first(configured: pluggy.PluginManager):
    """Some patient has EHR acts, with source `demo`, sorted by date."""
    (acts,) = configured.hook.fmt_patient_acts(patient_id="P000001", since=None)
    assert acts
    assert all(act.source == "demo" for act in acts)
    assert [a.date for a in acts] == sorted(a.date for a in acts)


def test_acts_since_leaves_out_older_ones(configured: pluggy.PluginManager):
    """Acts before `since` are left out."""
    (acts,) = configured.hook.fmt_patient_acts(patient_id="P000001", since=None)
    since = acts[len(acts) // 2].date
    (recent,) = configured.hook.fmt_patient_acts(patient_id="P000001", since=since)
    assert recent == [a for a in acts if a.date >= since]


def test_no_acts_for_someone_outside_the_roster(configured: pluggy.PluginManager):
    """A stranger of the HL7 traffic (id after the roster's) gets no answer."""
    assert configured.hook.fmt_patient_acts(patient_id="P000201", since=None) == []


def test_config_block_reads_back(configured: pluggy.PluginManager):
    """The block `demo` writes into fmt.toml gives the adapter the same settings."""
    practice = configured.get_plugin("demo").practice()
    assert practice is not None
    assert practice.settings == SMALL


def test_reference_date_is_required(tmp_path: Path):
    """A table without `reference_date` stops start-up naming the key."""
    with pytest.raises(ConfigError, match=r"adapters\.demo\.reference_date"):
        manager(tmp_path, "[adapters.demo]\nseed = 1\n")


def test_unknown_key_is_refused(tmp_path: Path):
    """A typo in the table stops start-up naming the key."""
    table = "[adapters.demo]\nreference_date = 2026-03-15\npatient = 10\n"
    with pytest.raises(ConfigError, match=r"adapters\.demo\.patient"):
        manager(tmp_path, table)


def test_demo_adapter_passes_the_conformance_checks(tmp_path: Path):
    """The vendors' conformance checks (those that apply to a built-in) pass on it."""
    (tmp_path / "fmt.key").write_bytes(b"")
    path = tmp_path / "fmt.toml"
    path.write_text(f'[store]\nkey_file = "fmt.key"\n\n{config_block(SMALL)}', "utf-8")
    config = load_config(path)
    pm = checks.check_adapter_loads(config, "demo")
    checks.check_adapter_info(pm, "demo")
    batch = checks.check_roster(pm, "demo", REFERENCE)
    patient_ids = [p.patient_id for p in batch.patients]
    checks.check_patient_acts(pm, "demo", patient_ids)
    checks.check_patient_acts_since(pm, "demo", patient_ids)
    checks.check_patient_acts_of_unknown_patient(pm, "demo")
    checks.check_configure_refuses_unknown_key(pm, "demo", config)
    checks.check_unconfigured_adapter_stays_inactive(pm, "demo", config, REFERENCE)
