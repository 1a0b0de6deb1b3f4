"""MédiDossier's local lab codes and their LOINC translation (the `fmt_translate_code` table).

MédiDossier records lab results under its own short codes; the rule packs know LOINC. The
table is in memory: `fmt_translate_code` is called for every coded event and must not block.
"""

from __future__ import annotations

from fmt_plugin.model import Code

#: The coding system of MédiDossier's lab codes, as its acts and HL7 messages name it.
LAB_SYSTEM = "MEDIDOSSIER-BIO"

#: Local lab code → LOINC (serum or plasma unless said otherwise).
LAB_CODES: dict[str, Code] = {
    "GLY": Code("LOINC", "1558-6", "Glycémie à jeun"),
    "GLYH": Code("LOINC", "4548-4", "Hémoglobine glyquée (HbA1c)"),
    "CREA": Code("LOINC", "2160-0", "Créatininémie"),
    "MALB": Code("LOINC", "14957-5", "Microalbuminurie"),
    "CREAU": Code("LOINC", "2161-8", "Créatininurie"),
    "RAC": Code("LOINC", "9318-7", "Rapport albuminurie / créatininurie"),
}


def translate_lab_code(system: str, code: str) -> Code | None:
    """The LOINC code of a MédiDossier lab code; None for any other system or code."""
    if system.strip().upper() != LAB_SYSTEM:
        return None
    return LAB_CODES.get(code.strip().upper())
