"""French text compared the way people type it: without accents (`Hélène` is `Helene`).

One place for the Unicode decomposition that CSV headers, command choices, patient searches
and the demo's addresses all need.
"""

from __future__ import annotations

import unicodedata


def without_accents(text: str) -> str:
    """`text` with its diacritics removed (NFKD, combining marks dropped); case unchanged."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))
