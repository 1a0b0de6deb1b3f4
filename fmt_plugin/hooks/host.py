"""Build the plugin manager: hook specs, built-in adapters, entry points, configured modules.

Fails closed: an adapter that cannot be imported, implements an unknown hook, has a hook with a
wrong signature, or rejects its settings stops start-up with its name. A missing EHR adapter
means missing clinical data, so carrying on with a warning (httpie's way) is not an option.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
from collections.abc import Iterable
from typing import Any

import pluggy

from fmt_plugin.adapters import BUILTIN_ADAPTERS
from fmt_plugin.config import FmtConfig
from fmt_plugin.errors import ConfigError, PluginError
from fmt_plugin.hooks import PROJECT_NAME, specs
from fmt_plugin.model import AdapterInfo

log = logging.getLogger(__name__)

#: Entry-point group under which installed adapter packages register.
ENTRY_POINT_GROUP = "fmt_plugin.adapters"


def build_plugin_manager(
    config: FmtConfig | None = None,
    *,
    load_entry_points: bool = True,
    extra_plugins: Iterable[tuple[str, object]] = (),
) -> pluggy.PluginManager:
    """A fresh manager with every adapter registered, validated and (given a config) configured.

    `extra_plugins` are `(name, plugin)` pairs registered after the others (the core's own
    store-backed built-ins, or a test's adapter).
    """
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(specs)
    disabled = set(config.plugins.disable) if config else set()
    for name, reference in BUILTIN_ADAPTERS:
        if name not in disabled:
            _register(pm, name, _instantiate(name, _load_reference(name, reference)))
    if load_entry_points:
        for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if entry_point.name not in disabled:
                _register(pm, entry_point.name, _load_entry_point(entry_point))
    for module_name in config.plugins.modules if config else ():
        if module_name not in disabled:
            _register(pm, module_name, _import_module(module_name))
    for name, plugin in extra_plugins:
        _register(pm, name, plugin)
    _check_pending(pm)
    if config is not None:
        configure_plugins(pm, config)
    return pm


def configure_plugins(pm: pluggy.PluginManager, config: FmtConfig) -> None:
    """Call `fmt_configure` on each adapter in turn, so a failure names its adapter.

    Also refuses an `[adapters.NAME]` table that no loaded adapter is called: a typo there
    would otherwise leave an adapter silently unconfigured.
    """
    for impl in reversed(pm.hook.fmt_configure.get_hookimpls()):
        try:
            impl.function(config=config)
        except ConfigError:
            raise
        except (
            Exception
        ) as exc:  # translate any adapter failure: it must name the adapter
            raise PluginError(
                impl.plugin_name, f"configuration impossible : {exc}"
            ) from exc
    names = {name for name, _ in pm.list_name_plugin()}
    for table in config.adapter_tables:
        if table not in names:
            raise ConfigError(
                "aucun adaptateur chargé ne porte ce nom",
                path=config.path,
                key=f"adapters.{table}",
                expected="un de : " + ", ".join(sorted(names)),
            )


def adapter_infos(pm: pluggy.PluginManager) -> list[AdapterInfo]:
    """What every adapter says of itself, vendors first."""
    infos: list[AdapterInfo] = pm.hook.fmt_adapter_info()
    return infos


def _register(pm: pluggy.PluginManager, name: str, plugin: object) -> None:
    try:
        pm.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:
        raise PluginError(name, f"crochet invalide : {exc}") from exc
    except ValueError as exc:  # pluggy: the same name or object registered twice
        raise PluginError(name, str(exc)) from exc
    log.debug("adapter registered: %s", name)


def _check_pending(pm: pluggy.PluginManager) -> None:
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        name = pm.get_name(exc.plugin) or repr(exc.plugin)
        raise PluginError(name, f"crochet inconnu : {exc}") from exc


def _load_reference(name: str, reference: str) -> Any:
    module_name, _, attribute = reference.partition(":")
    module = _import_module(module_name, plugin_name=name)
    return getattr(module, attribute) if attribute else module


def _load_entry_point(entry_point: importlib.metadata.EntryPoint) -> object:
    try:
        loaded = entry_point.load()
    except (
        Exception
    ) as exc:  # any import-time failure of third-party code names the adapter
        raise PluginError(entry_point.name, f"chargement impossible : {exc!r}") from exc
    return _instantiate(entry_point.name, loaded)


def _import_module(module_name: str, *, plugin_name: str | None = None) -> object:
    try:
        return importlib.import_module(module_name)
    except (
        Exception
    ) as exc:  # any import-time failure of adapter code names the adapter
        raise PluginError(
            plugin_name or module_name, f"chargement impossible : {exc!r}"
        ) from exc


def _instantiate(name: str, loaded: Any) -> object:
    """A class is instantiated with no arguments; a module or an instance is used as is."""
    if not isinstance(loaded, type):
        return loaded
    try:
        return loaded()
    except Exception as exc:  # a constructor failure of adapter code names the adapter
        raise PluginError(name, f"instanciation impossible : {exc!r}") from exc
