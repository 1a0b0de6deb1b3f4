"""Call one adapter's hooks alone, through pluggy, so that what a check sees is that adapter's.

The other adapters (built-ins included) are left out of the call, so a check's failure is the
vendor's and not, say, the built-in CSV adapter's. A hook the adapter does not implement makes
the calling check skip with a reason instead of fail: implementing a hook is optional.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

import pluggy
import pytest

from fmt_plugin.hooks.host import ENTRY_POINT_GROUP


def implements(pm: pluggy.PluginManager, name: str, hook: str) -> bool:
    """Whether the adapter registered under `name` has an implementation of `hook`."""
    plugin = pm.get_plugin(name)
    if plugin is None:
        return False
    return any(impl.plugin is plugin for impl in getattr(pm.hook, hook).get_hookimpls())


def require_hook(pm: pluggy.PluginManager, name: str, hook: str) -> None:
    """Skip the calling check when the adapter does not implement `hook` (it is optional)."""
    require_plugin(pm, name)
    if not implements(pm, name, hook):
        pytest.skip(f"adapter {name!r} does not implement {hook}: nothing to check")


def require_plugin(pm: pluggy.PluginManager, name: str) -> None:
    """Fail when no adapter is registered under `name` in this plugin manager."""
    if not pm.has_plugin(name):
        loaded = ", ".join(sorted(n for n, p in pm.list_name_plugin() if p))
        fail(
            f"no adapter named {name!r} is loaded (loaded: {loaded}); its entry point "
            f"in group {ENTRY_POINT_GROUP!r} must carry that name"
        )


def adapter_hook(pm: pluggy.PluginManager, name: str, hook: str) -> Callable[..., Any]:
    """A caller of `hook` that runs only the adapter `name`'s implementation (and wrappers).

    For a collecting hook it returns the list of non-None results (so `[]` means the adapter
    answered None); for a `firstresult` hook, the result itself.
    """
    others = [plugin for other, plugin in pm.list_name_plugin() if other != name]
    return pm.subset_hook_caller(hook, remove_plugins=[p for p in others if p])


def fail(message: str) -> NoReturn:
    """Fail the calling check with `message` (which names hooks, fields and ids, never values)."""
    raise AssertionError(message)


def fail_if_any(issues: list[str], heading: str) -> None:
    """Fail with every issue found, one per line, so that one CI run shows them all."""
    if not issues:
        return
    shown = issues[:MAX_ISSUES_SHOWN]
    more = len(issues) - len(shown)
    lines = [heading, *(f"  - {issue}" for issue in shown)]
    if more:
        lines.append(f"  … and {more} more")
    fail("\n".join(lines))


#: Beyond this many, issues are counted rather than listed: the first ones tell what to fix.
MAX_ISSUES_SHOWN = 20
