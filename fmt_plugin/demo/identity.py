"""Synthetic identities: French names (some accented) and valid matricules INS.

Drawn from the caller's `random.Random`, so a seed gives the same people every time. A drawn
INS passes `fmt_plugin.ins.check_ins` (key included) and carries the patient's sex, year and
month of birth, as a real NIR does.
"""

from __future__ import annotations

import random
from datetime import date

from fmt_plugin.ins import check_ins
from fmt_plugin.model import Sex

#: Share of patients with an accented surname, and with an accented first name.
ACCENTED_SURNAME_SHARE = 0.02
ACCENTED_FIRST_NAME_SHARE = 0.03

# fmt: off
SURNAMES = (
    "MARTIN", "BERNARD", "THOMAS", "PETIT", "ROBERT", "RICHARD", "DURAND", "DUBOIS",
    "MOREAU", "LAURENT", "SIMON", "MICHEL", "LEFEBVRE", "LEROY", "ROUX", "DAVID",
    "BERTRAND", "MOREL", "FOURNIER", "GIRARD", "BONNET", "DUPONT", "LAMBERT", "FONTAINE",
    "ROUSSEAU", "VINCENT", "MULLER", "FAURE", "ANDRE", "MERCIER", "BLANC", "GUERIN",
    "BOYER", "GARNIER", "CHEVALIER", "FRANCOIS", "LEGRAND", "GAUTHIER", "GARCIA", "PERRIN",
    "ROBIN", "CLEMENT", "MORIN", "NICOLAS", "HENRY", "ROUSSEL", "MATHIEU", "MASSON",
    "MARCHAND", "DUVAL", "DENIS", "LEMAIRE", "NOEL", "MEYER", "DUFOUR", "MEUNIER",
    "BRUN", "BLANCHARD", "GIRAUD", "JOLY", "RIVIERE", "LUCAS", "BRUNET", "GAILLARD",
)
ACCENTED_SURNAMES = (
    "LEFÈVRE", "DUPRÉ", "BÉRANGER", "FRANÇOIS", "MÉNARD", "HÉBERT", "GUÉRIN", "CÔTÉ",
    "RIVIÈRE", "BRÉMOND", "NOËL", "FÉVRIER",
)
FIRST_NAMES: dict[Sex, tuple[str, ...]] = {
    "F": (
        "MARIE", "NATHALIE", "ISABELLE", "SYLVIE", "CATHERINE", "SOPHIE", "CHRISTINE",
        "SANDRINE", "MONIQUE", "NICOLE", "CAMILLE", "EMMA", "LEA", "CHLOE", "MANON",
        "JULIE", "LAURA", "SARAH", "INES", "JEANNE", "LOUISE", "ALICE", "ODILE", "ANNE",
    ),
    "M": (
        "JEAN", "PIERRE", "MICHEL", "PHILIPPE", "ALAIN", "NICOLAS", "CHRISTOPHE",
        "PATRICK", "DAVID", "LOUIS", "GABRIEL", "LEO", "RAPHAEL", "ARTHUR", "LUCAS",
        "HUGO", "THOMAS", "PAUL", "YVES", "ROGER", "FRANCK", "BERNARD", "MARC", "HENRI",
    ),
}
ACCENTED_FIRST_NAMES: dict[Sex, tuple[str, ...]] = {
    "F": ("HÉLÈNE", "CÉLINE", "FRANÇOISE", "ANAÏS", "MÉLANIE", "CHLOÉ", "LÉA", "AGNÈS"),
    "M": ("JÉRÔME", "CLÉMENT", "FRANÇOIS", "NOÉ", "RAPHAËL", "JOËL", "THÉO", "ANDRÉ"),
}
# fmt: on

#: Départements of birth (metropolitan, Corsica as 2A/2B); 99 is "born abroad".
DEPARTMENTS = (*(f"{n:02d}" for n in range(1, 96) if n != 20), "2A", "2B", "99")
#: Corsica's letters stand for these digits in the key computation.
_CORSICA_DIGITS = {"2A": "19", "2B": "18"}


def draw_names(rng: random.Random, sex: Sex) -> tuple[str, str]:
    """(nom, prénom) in capitals, as EHRs export them; a few are accented."""
    nom = (
        rng.choice(ACCENTED_SURNAMES)
        if rng.random() < ACCENTED_SURNAME_SHARE
        else rng.choice(SURNAMES)
    )
    prenom = (
        rng.choice(ACCENTED_FIRST_NAMES[sex])
        if rng.random() < ACCENTED_FIRST_NAME_SHARE
        else rng.choice(FIRST_NAMES[sex])
    )
    return nom, prenom


def draw_ins(rng: random.Random, sex: Sex, birth: date, used: set[str]) -> str:
    """A valid matricule not in `used` (which it joins): sex, birth, place, order, key."""
    while True:
        department = rng.choice(DEPARTMENTS)
        commune = rng.randrange(1, 1000)
        order = rng.randrange(1, 1000)
        body = (
            f"{1 if sex == 'M' else 2}{birth.year % 100:02d}{birth.month:02d}"
            f"{department}{commune:03d}{order:03d}"
        )
        numeric = body[:5] + _CORSICA_DIGITS.get(department, department) + body[7:]
        ins = f"{body}{97 - int(numeric) % 97:02d}"
        if ins in used:
            continue
        used.add(check_ins(ins))  # raises InvalidIns if this generator is wrong
        return ins
