"""fmt-plugin adapter for the (fictional) MédiDossier EHR: roster, acts, lab codes, portal."""

from __future__ import annotations

__version__ = "1.0.0"
