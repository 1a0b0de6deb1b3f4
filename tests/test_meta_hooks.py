"""The hook contract itself: every spec documented, every spec tested, typos caught."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pluggy
import pytest

from fmt_plugin import hookimpl
from fmt_plugin.errors import PluginError
from fmt_plugin.hooks import specs
from fmt_plugin.hooks.host import build_plugin_manager

TESTS = Path(__file__).parent


def hook_specs() -> list[str]:
    pm = pluggy.PluginManager("fmt_plugin")
    pm.add_hookspecs(specs)
    return sorted(name for name in dir(pm.hook) if name.startswith("fmt_"))


SPEC_NAMES = hook_specs()


def test_every_spec_is_prefixed_and_the_list_is_complete():
    """The specs module defines exactly the hooks of the design, all named fmt_*."""
    assert (
        sorted(
            [
                "fmt_adapter_info",
                "fmt_configure",
                "fmt_roster",
                "fmt_patient_acts",
                "fmt_translate_code",
                "fmt_match_patient",
                "fmt_hl7_received",
                "fmt_events_stored",
                "fmt_status_changed",
                "fmt_recall_channels",
                "fmt_rule_packs",
            ]
        )
        == SPEC_NAMES
    )


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_spec_documents_each_parameter_and_the_return(name):
    """Each spec's docstring has a :param: per argument and a :return: line."""
    function = getattr(specs, name)
    doc = inspect.getdoc(function) or ""
    for arg in inspect.signature(function).parameters:
        assert f":param {arg}:" in doc, f"{name} does not document {arg}"
    assert ":return:" in doc


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_spec_says_when_it_is_called_and_its_result_style(name):
    """Each spec's docstring states its calling style (collecting, firstresult, notification)."""
    doc = inspect.getdoc(getattr(specs, name)) or ""
    assert re.search(r"Collecting hook|`firstresult`|Notification", doc)
    assert "alled" in doc  # "Called …" / "called …": when the core calls it


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_spec_is_fully_typed(name):
    """Each spec annotates every argument and its return."""
    signature = inspect.signature(getattr(specs, name))
    assert signature.return_annotation is not inspect.Signature.empty
    for parameter in signature.parameters.values():
        assert parameter.annotation is not inspect.Parameter.empty


def test_every_hook_has_a_test():
    """Each hook has a test_hook_<name> function somewhere in the test suite."""
    source = "\n".join(p.read_text(encoding="utf-8") for p in TESTS.glob("test_*.py"))
    missing = [n for n in SPEC_NAMES if f"def test_hook_{n}" not in source]
    assert missing == []


def test_misspelled_hook_stops_start_up_with_the_adapter_name():
    """An adapter implementing a hook that does not exist is refused by name."""

    class Typo:
        @hookimpl
        def fmt_rostre(self, as_of):
            return None

    with pytest.raises(PluginError, match="« typo_adapter »"):
        build_plugin_manager(
            load_entry_points=False, extra_plugins=[("typo_adapter", Typo())]
        )


def test_wrong_argument_name_stops_start_up_with_the_adapter_name():
    """An implementation asking for an argument the spec does not give is refused by name."""

    class WrongArgs:
        @hookimpl
        def fmt_roster(self, as_at):
            return None

    with pytest.raises(PluginError, match="« wrong_args »"):
        build_plugin_manager(
            load_entry_points=False, extra_plugins=[("wrong_args", WrongArgs())]
        )
