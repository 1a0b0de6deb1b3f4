"""The default rule pack `fmt-2026`, offered through `fmt_rule_packs` like any vendor's pack.

`trylast`, so a vendor's or a practice's pack with the same id comes later in the selection
order and replaces it (see `fmt_plugin.evaluation.select_rule_pack`).
"""

from __future__ import annotations

from importlib.resources.abc import Traversable
from pathlib import Path

from fmt_plugin import __version__
from fmt_plugin.hooks import hookimpl
from fmt_plugin.model import AdapterInfo
from fmt_plugin.rules.pack import default_pack_resource


class DefaultRulePack:
    """Offers the pack shipped inside the package."""

    @hookimpl
    def fmt_adapter_info(self) -> AdapterInfo:
        """Name this built-in."""
        return AdapterInfo(
            name="default_rule_pack",
            version=__version__,
            description="jeu de règles fmt-2026 (15 indicateurs de prévention)",
        )

    @hookimpl(trylast=True)
    def fmt_rule_packs(self) -> list[Path | Traversable]:
        """The shipped `fmt-2026.toml`."""
        return [default_pack_resource()]
