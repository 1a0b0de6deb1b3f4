"""Default code translation: the standard HL7 names of coding systems mapped to the rule packs' names.

Only names are translated, never codes: mapping a lab's local code or a CIP13 vaccine code is
the vendor adapter's job, which runs first because this one is `trylast`.
"""

from __future__ import annotations

from fmt_plugin import __version__
from fmt_plugin.hooks import hookimpl
from fmt_plugin.model import AdapterInfo, Code

#: HL7 table 0396 names (and the spellings French senders use) of the systems packs know.
SYSTEM_ALIASES: dict[str, str] = {
    "LN": "LOINC",
    "LNC": "LOINC",
    "LOINC": "LOINC",
    "CVX": "CVX",
    "HL70292": "CVX",
    "WC": "ATC",
    "ATC": "ATC",
    "NABM": "NABM",
    "CCAM": "CCAM",
    "NGAP": "NGAP",
}


class CodeSystemNames:
    """Normalises coding-system names; answers None for any system it does not know."""

    @hookimpl
    def fmt_adapter_info(self) -> AdapterInfo:
        """Name this built-in."""
        return AdapterInfo(
            name="code_systems",
            version=__version__,
            description="noms standard des systèmes de codage HL7",
        )

    @hookimpl(trylast=True)
    def fmt_translate_code(self, system: str, code: str) -> Code | None:
        """`LN|1558-6` → `LOINC|1558-6`; None for an unknown system or an empty code."""
        name = SYSTEM_ALIASES.get(system.strip().upper())
        code = code.strip()
        if name is None or not code:
            return None
        return Code(system=name, code=code)
