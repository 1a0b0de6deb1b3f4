"""The MédiDossier adapter passes fmt-plugin's conformance checks on the sample export."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import ClassVar

from fmt_plugin.testing import AdapterConformance

EXPORT = Path(__file__).parent / "export"


class TestMediDossierConformance(AdapterConformance):
    """Every check of the kit, on the sample export and a portal inbox in the temp folder."""

    adapter_name = "medidossier"
    # A relative path is resolved against the test installation's (temporary) folder.
    adapter_config: ClassVar[Mapping[str, object]] = {
        "export_dir": EXPORT,
        "portal_outbox": "portail",
    }
    as_of = date(2026, 1, 15)
    translated_codes: ClassVar[Sequence[tuple[str, str]]] = [
        ("MEDIDOSSIER-BIO", "GLYH"),
        ("MEDIDOSSIER-BIO", "CREA"),
    ]
