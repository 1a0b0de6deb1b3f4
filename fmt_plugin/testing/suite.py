"""`AdapterConformance`: every conformance check as a test, for an adapter package to subclass.

```python
from fmt_plugin.testing import AdapterConformance

class TestMyEhr(AdapterConformance):
    adapter_name = "my_ehr"
    adapter_config = {"export_dir": "/path/to/sample/export"}
```

Each test gets a fresh installation. The class's name does not start with `Test`, so pytest
collects the subclass only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, ClassVar

import pluggy

from fmt_plugin.config import FmtConfig
from fmt_plugin.installation import Installation
from fmt_plugin.model import KNOWN_CODE_SYSTEMS, Act, RosterBatch
from fmt_plugin.roster import collect_roster
from fmt_plugin.testing import checks
from fmt_plugin.testing.fixtures import DEFAULT_AS_OF
from fmt_plugin.testing.hooks import implements


class AdapterConformance:
    """The conformance tests of one adapter; set the class attributes in a subclass."""

    #: The entry-point name of the adapter, also the name of its `[adapters.NAME]` table.
    adapter_name: ClassVar[str | None] = None
    #: The body of `[adapters.NAME]` for the sample export: TOML text or a mapping.
    adapter_config: ClassVar[str | Mapping[str, Any] | None] = None
    #: More TOML for `fmt.toml` (e.g. a `[channels.file]` table), appended as is.
    extra_config: ClassVar[str] = ""
    #: The date the roster is asked for; the sample export's dates must not be after it.
    as_of: ClassVar[date] = DEFAULT_AS_OF
    #: (system, code) pairs `fmt_translate_code` must translate, e.g. local lab codes.
    translated_codes: ClassVar[Sequence[tuple[str, str]]] = ()

    def test_entry_point_is_declared(self, fmt_adapter_name: str) -> None:
        """One installed distribution declares the adapter's entry point."""
        checks.check_entry_point(fmt_adapter_name)

    def test_adapter_loads_with_the_real_host(
        self, fmt_config: FmtConfig, fmt_adapter_name: str
    ) -> None:
        """The plugin host loads and configures it, every `fmt_*` method marked."""
        checks.check_adapter_loads(fmt_config, fmt_adapter_name)

    def test_adapter_info_names_the_adapter_and_its_hooks_version(
        self, fmt_plugin_manager: pluggy.PluginManager, fmt_adapter_name: str
    ) -> None:
        """`fmt_adapter_info` gives its name, a version and the current HOOKS_VERSION."""
        checks.check_adapter_info(fmt_plugin_manager, fmt_adapter_name)

    def test_configure_refuses_an_unknown_key(
        self,
        fmt_plugin_manager: pluggy.PluginManager,
        fmt_adapter_name: str,
        fmt_config: FmtConfig,
    ) -> None:
        """A typo in `[adapters.NAME]` is a ConfigError naming the key."""
        checks.check_configure_refuses_unknown_key(
            fmt_plugin_manager, fmt_adapter_name, fmt_config
        )

    def test_unconfigured_adapter_stays_inactive(
        self,
        fmt_plugin_manager: pluggy.PluginManager,
        fmt_adapter_name: str,
        fmt_config: FmtConfig,
        fmt_as_of: date,
    ) -> None:
        """Without its table, the adapter configures without error and gives no patient."""
        checks.check_unconfigured_adapter_stays_inactive(
            fmt_plugin_manager, fmt_adapter_name, fmt_config, fmt_as_of
        )

    def test_roster_patients_are_well_formed(
        self,
        fmt_plugin_manager: pluggy.PluginManager,
        fmt_adapter_name: str,
        fmt_as_of: date,
    ) -> None:
        """Unique ids, valid normalised INS, past birth dates, fields of the right types."""
        checks.check_roster(fmt_plugin_manager, fmt_adapter_name, fmt_as_of)

    def test_roster_problems_are_located_without_identity_values(
        self, fmt_roster_batch: RosterBatch
    ) -> None:
        """Rejected records are located by file and line and quote no identity value."""
        checks.check_roster_problems(fmt_roster_batch)

    def test_roster_syncs_into_the_store(
        self,
        fmt_installation: Installation,
        fmt_adapter_name: str,
        fmt_as_of: date,
    ) -> None:
        """The roster goes through `sync` into the store and comes back equal."""
        checks.check_roster_syncs(fmt_installation, fmt_adapter_name, fmt_as_of)

    def test_practice_evaluates_with_the_adapter(
        self,
        fmt_installation: Installation,
        fmt_adapter_name: str,
        fmt_as_of: date,
    ) -> None:
        """Every patient of the adapter is evaluated by the rule pack without error."""
        checks.check_practice_evaluates(fmt_installation, fmt_adapter_name, fmt_as_of)

    def test_patient_acts_are_well_formed(
        self,
        fmt_plugin_manager: pluggy.PluginManager,
        fmt_adapter_name: str,
        fmt_as_of: date,
    ) -> None:
        """Acts of the patient asked for, dated, coded in a known or translated system."""
        checks.check_patient_acts(
            fmt_plugin_manager,
            fmt_adapter_name,
            _roster_ids(fmt_plugin_manager, fmt_as_of),
        )

    def test_patient_acts_respect_since(
        self,
        fmt_plugin_manager: pluggy.PluginManager,
        fmt_adapter_name: str,
        fmt_as_of: date,
    ) -> None:
        """`since` keeps exactly the acts on or after it."""
        checks.check_patient_acts_since(
            fmt_plugin_manager,
            fmt_adapter_name,
            _roster_ids(fmt_plugin_manager, fmt_as_of),
        )

    def test_patient_acts_of_an_unknown_patient_are_empty(
        self, fmt_plugin_manager: pluggy.PluginManager, fmt_adapter_name: str
    ) -> None:
        """An unknown patient id gets None or [] without an exception."""
        checks.check_patient_acts_of_unknown_patient(
            fmt_plugin_manager, fmt_adapter_name
        )

    def test_translate_code_gives_known_systems(
        self,
        fmt_plugin_manager: pluggy.PluginManager,
        fmt_adapter_name: str,
        fmt_translated_codes: Sequence[tuple[str, str]],
        fmt_as_of: date,
    ) -> None:
        """Declared codes and the acts' local codes translate to a known system."""
        checks.check_translate_code(
            fmt_plugin_manager,
            fmt_adapter_name,
            fmt_translated_codes,
            _local_act_codes(fmt_plugin_manager, fmt_adapter_name, fmt_as_of),
        )

    def test_translate_code_ignores_unknown_codes(
        self,
        fmt_plugin_manager: pluggy.PluginManager,
        fmt_adapter_name: str,
        fmt_translated_codes: Sequence[tuple[str, str]],
    ) -> None:
        """Unknown systems and unknown codes of its own systems get None."""
        checks.check_translate_code_ignores_unknown(
            fmt_plugin_manager,
            fmt_adapter_name,
            [system for system, _ in fmt_translated_codes],
        )

    def test_match_patient_gives_roster_ids(
        self,
        fmt_plugin_manager: pluggy.PluginManager,
        fmt_adapter_name: str,
        fmt_as_of: date,
    ) -> None:
        """A roster patient's identifiers match that patient or nothing."""
        roster = collect_roster(fmt_plugin_manager, fmt_as_of)
        checks.check_match_patient(
            fmt_plugin_manager, fmt_adapter_name, roster.patients
        )

    def test_recall_channels_satisfy_the_protocol(
        self,
        fmt_plugin_manager: pluggy.PluginManager,
        fmt_adapter_name: str,
        fmt_as_of: date,
    ) -> None:
        """Channels have a unique name, a bool `can_reach` and an async `send`."""
        roster = collect_roster(fmt_plugin_manager, fmt_as_of)
        checks.check_recall_channels(
            fmt_plugin_manager, fmt_adapter_name, roster.patients
        )

    def test_hl7_rewrite_returns_a_message(
        self, fmt_plugin_manager: pluggy.PluginManager, fmt_adapter_name: str
    ) -> None:
        """`fmt_hl7_received` gives None or an HL7 message."""
        checks.check_hl7_received(fmt_plugin_manager, fmt_adapter_name)

    def test_notifications_accept_sample_events(
        self,
        fmt_plugin_manager: pluggy.PluginManager,
        fmt_adapter_name: str,
        fmt_as_of: date,
    ) -> None:
        """Notification hooks take sample events without raising."""
        roster_ids = _roster_ids(fmt_plugin_manager, fmt_as_of)
        patient_id = roster_ids[0] if roster_ids else checks.UNKNOWN_PATIENT
        checks.check_notifications(
            fmt_plugin_manager, fmt_adapter_name, patient_id, fmt_as_of
        )

    def test_rule_packs_load(
        self, fmt_plugin_manager: pluggy.PluginManager, fmt_adapter_name: str
    ) -> None:
        """Offered rule packs load and validate."""
        checks.check_rule_packs(fmt_plugin_manager, fmt_adapter_name)


def _roster_ids(pm: pluggy.PluginManager, as_of: date) -> list[str]:
    """The patient ids of the merged roster, as `sync` would store them."""
    return [patient.patient_id for patient in collect_roster(pm, as_of).patients]


def _local_act_codes(
    pm: pluggy.PluginManager, name: str, as_of: date
) -> list[tuple[str, str]]:
    """The (system, code) of the adapter's acts whose system the rule packs do not know."""
    if not implements(pm, name, "fmt_patient_acts"):
        return []
    return [
        (act.system, act.code)
        for patient_id in _roster_ids(pm, as_of)
        for act in checks.patient_acts(pm, name, patient_id, None)
        if isinstance(act, Act) and act.system not in KNOWN_CODE_SYSTEMS
    ]
