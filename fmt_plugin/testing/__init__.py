"""The conformance kit for adapter packages: a pytest plugin with fixtures and checks.

An adapter package enables it explicitly, in its `conftest.py`:

```python
pytest_plugins = ["fmt_plugin.testing"]
```

(or with `pytest -p fmt_plugin.testing`), then subclasses `AdapterConformance`, or calls the
checks of `fmt_plugin.testing.checks` from its own tests. The kit needs pytest, which
fmt-plugin itself does not: install `fmt-plugin[testing]`. Nothing else in fmt_plugin imports
this package, so pytest is never loaded by the service or the CLI.

There is deliberately no `pytest11` entry point: auto-loading would add these fixtures to the
pytest run of every project installed beside fmt-plugin.
"""

from __future__ import annotations

try:
    import pytest  # noqa: F401  (imported first for the error below, used by the modules)
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "fmt_plugin.testing needs pytest: pip install 'fmt-plugin[testing]'"
    ) from exc

from fmt_plugin.testing import checks
from fmt_plugin.testing.fixtures import (
    DEFAULT_AS_OF,
    adapter_block,
    fmt_adapter_config,
    fmt_adapter_name,
    fmt_as_of,
    fmt_config,
    fmt_extra_config,
    fmt_installation,
    fmt_installation_path,
    fmt_plugin_manager,
    fmt_roster_batch,
    fmt_translated_codes,
)
from fmt_plugin.testing.suite import AdapterConformance

__all__ = [
    "DEFAULT_AS_OF",
    "AdapterConformance",
    "adapter_block",
    "checks",
    "fmt_adapter_config",
    "fmt_adapter_name",
    "fmt_as_of",
    "fmt_config",
    "fmt_extra_config",
    "fmt_installation",
    "fmt_installation_path",
    "fmt_plugin_manager",
    "fmt_roster_batch",
    "fmt_translated_codes",
]
