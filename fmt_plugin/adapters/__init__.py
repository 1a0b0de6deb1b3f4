"""The built-in adapters, registered like third-party ones (datasette's DEFAULT_PLUGINS).

Each entry is `(plugin name, "module:Class")`; the plugin host instantiates the class once per
plugin manager, so no state leaks between managers (or tests).
"""

from __future__ import annotations

BUILTIN_ADAPTERS: tuple[tuple[str, str], ...] = (
    ("code_systems", "fmt_plugin.adapters.code_systems:CodeSystemNames"),
    ("csv_roster", "fmt_plugin.adapters.csv_roster:CsvRosterAdapter"),
    ("default_rule_pack", "fmt_plugin.adapters.default_rule_pack:DefaultRulePack"),
    ("demo", "fmt_plugin.adapters.demo:DemoAdapter"),
    ("recall_channels", "fmt_plugin.adapters.recall_channels:RecallChannels"),
)
