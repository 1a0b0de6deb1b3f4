"""One test per hook (test_hook_<name>): each hook behaves as its spec in hooks/specs.py says."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from fmt_plugin import hookimpl
from fmt_plugin.adapters.patient_match import StorePatientMatcher
from fmt_plugin.config import FmtConfig, load_config
from fmt_plugin.errors import ConfigError, PluginError
from fmt_plugin.evaluation import select_rule_pack
from fmt_plugin.hooks.host import adapter_infos, build_plugin_manager
from fmt_plugin.model import (
    Act,
    AdapterInfo,
    Code,
    EventKind,
    Patient,
    PatientIdentifier,
    RecallChannel,
    RosterBatch,
    StatusChange,
    StoredEvent,
)
from fmt_plugin.roster import collect_roster
from fmt_plugin.rules.pack import default_pack_resource
from fmt_plugin.storage import Store, load_key_file

INS_OID = "ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO"


class VendorAdapter:
    """A minimal EHR vendor adapter, as a third party would write it."""

    def __init__(self) -> None:
        self.settings: dict[str, str] = {}
        self.events: list[StoredEvent] = []
        self.changes: list[StatusChange] = []

    @hookimpl
    def fmt_adapter_info(self):
        return AdapterInfo(name="vendor", version="2.3.1", description="EHR X")

    @hookimpl
    def fmt_configure(self, config: FmtConfig):
        section = config.adapter_section("vendor")
        if section is not None:
            self.settings["base_url"] = section.string("base_url")
            section.finish()

    @hookimpl
    def fmt_roster(self, as_of):
        return RosterBatch(
            source="vendor",
            patients=(
                Patient(
                    patient_id="Q05",
                    source="vendor",
                    ins="271020905620548",
                    telephone="0102030405",
                ),
            ),
        )

    @hookimpl
    def fmt_patient_acts(self, patient_id, since):
        if patient_id != "Q07":
            return None
        return [Act("Q07", date(2026, 1, 5), "NGAP", "BDA", source="vendor")]

    @hookimpl
    def fmt_translate_code(self, system, code):
        if system == "CIP13" and code == "3400930000001":
            return Code("CVX", "140", "Influenza split")
        if system == "LN" and code == "LOCAL-GLU":
            return Code("LOINC", "1558-6")
        return None

    @hookimpl
    def fmt_events_stored(self, events):
        self.events.extend(events)

    @hookimpl
    def fmt_status_changed(self, change):
        self.changes.append(change)


@pytest.fixture
def config(installation: Path) -> FmtConfig:
    return load_config(installation)


@pytest.fixture
def vendor() -> VendorAdapter:
    return VendorAdapter()


@pytest.fixture
def pm(config, vendor):
    return build_plugin_manager(
        config, load_entry_points=False, extra_plugins=[("vendor", vendor)]
    )


def test_hook_fmt_adapter_info(pm):
    """Every adapter describes itself; the vendor's answer comes before the built-ins'."""
    infos = adapter_infos(pm)
    names = [info.name for info in infos]
    assert names[0] == "vendor"
    assert {"code_systems", "csv_roster"} <= set(names)
    assert infos[0].version == "2.3.1"


def test_hook_fmt_configure(installation, vendor):
    """An adapter reads its own table and gets a ConfigError for its own typos."""
    with installation.open("a", encoding="utf-8") as fh:
        fh.write('\n[adapters.vendor]\nbase_url = "http://ehr.local"\n')
    config = load_config(installation)
    build_plugin_manager(
        config, load_entry_points=False, extra_plugins=[("vendor", vendor)]
    )
    assert vendor.settings == {"base_url": "http://ehr.local"}

    with installation.open("a", encoding="utf-8") as fh:
        fh.write("timeout = 3\n")
    with pytest.raises(ConfigError, match=r"adapters\.vendor\.timeout"):
        build_plugin_manager(
            load_config(installation),
            load_entry_points=False,
            extra_plugins=[("vendor", VendorAdapter())],
        )


def test_configure_failure_names_the_adapter(config):
    """An adapter whose configuration crashes stops start-up with its name."""

    class Broken:
        @hookimpl
        def fmt_configure(self, config):
            raise RuntimeError("cannot reach the EHR")

    with pytest.raises(PluginError, match="« broken »"):
        build_plugin_manager(
            config, load_entry_points=False, extra_plugins=[("broken", Broken())]
        )


def test_table_for_an_adapter_that_is_not_loaded_is_refused(installation):
    """An [adapters.X] table with no adapter X loaded is a configuration error."""
    with installation.open("a", encoding="utf-8") as fh:
        fh.write('\n[adapters.vendr]\nbase_url = "x"\n')
    with pytest.raises(ConfigError, match=r"adapters\.vendr"):
        build_plugin_manager(load_config(installation), load_entry_points=False)


def test_hook_fmt_roster(pm):
    """The rosters of the vendor and the CSV adapter are merged, the vendor's fields first."""
    roster = collect_roster(pm, date(2026, 3, 15))
    assert roster.sources == ("vendor", "csv_roster")
    by_id = {p.patient_id: p for p in roster.patients}
    assert len(by_id) == 8
    q05 = by_id["Q05"]
    assert q05.telephone == "0102030405"  # from the vendor
    assert q05.nom == "ROLLAND"  # filled in from the CSV export
    assert q05.birth_date == date(1971, 2, 14)


def test_hook_fmt_patient_acts(pm):
    """Acts of every adapter are collected for a patient."""
    results = pm.hook.fmt_patient_acts(patient_id="Q07", since=None)
    acts = sorted((a.source, a.code) for batch in results if batch for a in batch)
    assert acts == [("csv_roster", "QEQK004"), ("vendor", "BDA")]


def test_hook_fmt_patient_acts_honours_since(pm):
    """Acts before `since` are left out."""
    results = pm.hook.fmt_patient_acts(patient_id="Q07", since=date(2025, 6, 1))
    codes = [a.code for batch in results if batch for a in batch]
    assert codes == ["BDA"]


def test_hook_fmt_translate_code(pm):
    """The vendor's code tables win; the built-in only renames standard systems."""
    hook = pm.hook.fmt_translate_code
    assert hook(system="CIP13", code="3400930000001") == Code(
        "CVX", "140", "Influenza split"
    )
    assert hook(system="LN", code="LOCAL-GLU") == Code("LOINC", "1558-6")
    assert hook(system="LN", code="4548-4") == Code("LOINC", "4548-4")
    assert hook(system="WC", code="J07BB02") == Code("ATC", "J07BB02")
    assert hook(system="CIP13", code="999") is None


def test_hook_fmt_match_patient(config, installation):
    """The built-in matcher finds a synced patient by INS and refuses unknown or mismatched ids."""
    keyring = load_key_file(config.store.key_file)
    with Store.open(config.store.path, keyring) as store:
        base = build_plugin_manager(config, load_entry_points=False)
        store.sync_roster(
            collect_roster(base, date(2026, 3, 15)).patients, actor="test"
        )
        matcher = StorePatientMatcher(store, practice_authorities=["CABINET"])
        pm = build_plugin_manager(
            config, load_entry_points=False, extra_plugins=[("patient_match", matcher)]
        )
        match = pm.hook.fmt_match_patient
        ins = PatientIdentifier("271020905620548", "INS", INS_OID)
        local = PatientIdentifier("Q05", "PI", "CABINET&1.2.250.1.999.1&ISO")
        other_local = PatientIdentifier("Q06", "PI", "CABINET&1.2.250.1.999.1&ISO")
        lab_local = PatientIdentifier("Q05", "PI", "BIOLAB")
        unknown_ins = PatientIdentifier("170027505699894", "INS", INS_OID)
        assert match(identifiers=[ins, local]) == "Q05"
        assert match(identifiers=[local]) == "Q05"
        assert match(identifiers=[lab_local]) is None
        assert match(identifiers=[ins, other_local]) is None
        assert match(identifiers=[unknown_ins, local]) is None


def test_the_built_in_matcher_follows_a_sync_made_by_another_connection(config):
    """A running listener's matcher sees the roster a `sync` changed since it last looked."""
    keyring = load_key_file(config.store.key_file)
    patients = collect_roster(
        build_plugin_manager(config, load_entry_points=False), date(2026, 3, 15)
    ).patients
    q05 = PatientIdentifier("271020905620548", "INS", INS_OID)
    with Store.open(config.store.path, keyring) as listener:
        matcher = StorePatientMatcher(listener)
        assert matcher.fmt_match_patient(identifiers=[q05]) is None  # not synced yet
        with Store.open(config.store.path, keyring) as command:
            command.sync_roster(patients, actor="test")
        assert matcher.fmt_match_patient(identifiers=[q05]) == "Q05"
        with Store.open(config.store.path, keyring) as command:
            others = [p for p in patients if p.patient_id != "Q05"]
            command.sync_roster(others, actor="test")
        assert matcher.fmt_match_patient(identifiers=[q05]) is None  # retired


def test_vendor_matcher_wins_over_the_built_in(config):
    """A vendor's fmt_match_patient answer is taken before the built-in one."""

    class VendorMatch:
        @hookimpl
        def fmt_match_patient(self, identifiers):
            return "EHR-" + identifiers[0].value

    keyring = load_key_file(config.store.key_file)
    with Store.open(config.store.path, keyring) as store:
        pm = build_plugin_manager(
            config,
            load_entry_points=False,
            extra_plugins=[
                ("patient_match", StorePatientMatcher(store)),
                ("vendor_match", VendorMatch()),
            ],
        )
        ident = PatientIdentifier("42", "PI", "EHR")
        assert pm.hook.fmt_match_patient(identifiers=[ident]) == "EHR-42"


def test_hook_fmt_hl7_received(config):
    """The first adapter that rewrites a message wins; None leaves it unchanged."""

    class Passive:
        @hookimpl
        def fmt_hl7_received(self, message, sender):
            return None

    class FixSegments:
        @hookimpl
        def fmt_hl7_received(self, message, sender):
            return message.replace("\n", "\r") if sender == "LABO^BIOLAB" else None

    pm = build_plugin_manager(
        config,
        load_entry_points=False,
        extra_plugins=[("fix", FixSegments()), ("passive", Passive())],
    )
    hook = pm.hook.fmt_hl7_received
    assert hook(message="MSH|x\nPID|y", sender="LABO^BIOLAB") == "MSH|x\rPID|y"
    assert hook(message="MSH|x\nPID|y", sender="OTHER") is None


def test_hook_fmt_events_stored(pm, vendor):
    """Every adapter is notified of stored events, which carry ids only."""
    events = [StoredEvent(event_id=1, patient_id="Q05", kind=EventKind.LAB_RESULT)]
    pm.hook.fmt_events_stored(events=events)
    assert vendor.events == events


def test_hook_fmt_status_changed(pm, vendor):
    """Every adapter is notified of a status change."""
    change = StatusChange("Q05", "dep_sein", "a_verifier", "fait", date(2026, 3, 15))
    pm.hook.fmt_status_changed(change=change)
    assert vendor.changes == [change]


def test_hook_fmt_recall_channels(config):
    """Channels of every adapter are collected, the vendors' before the built-in file outbox."""

    class SmsChannel:
        name = "sms"

        def can_reach(self, patient):
            return bool(patient.telephone)

        async def send(self, recall):
            return None

    class SmsAdapter:
        @hookimpl
        def fmt_recall_channels(self):
            return [SmsChannel()]

    pm = build_plugin_manager(
        config, load_entry_points=False, extra_plugins=[("sms", SmsAdapter())]
    )
    channels = [c for batch in pm.hook.fmt_recall_channels() if batch for c in batch]
    assert [c.name for c in channels] == ["sms", "file"]
    assert isinstance(channels[0], RecallChannel)
    assert channels[0].can_reach(Patient("Q1", "t", telephone="0600000000"))


def test_hook_fmt_rule_packs(config, tmp_path):
    """An adapter's pack with the default pack's id replaces it; the built-in comes last."""
    shipped = default_pack_resource().read_text(encoding="utf-8")
    pack = tmp_path / "cabinet.toml"
    pack.write_text(shipped.replace('version = "2026.1"', 'version = "cabinet-1"'))

    class PackAdapter:
        @hookimpl
        def fmt_rule_packs(self):
            return [pack]

    pm = build_plugin_manager(
        config, load_entry_points=False, extra_plugins=[("packs", PackAdapter())]
    )
    offered = [p for batch in pm.hook.fmt_rule_packs() if batch for p in batch]
    assert offered == [pack, default_pack_resource()]
    assert select_rule_pack(config, pm).version == "cabinet-1"
