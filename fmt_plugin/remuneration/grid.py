"""Load and validate the FMT remuneration grid (socle bands, majorations, payment calendar).

The grid is data shipped in the package (`fmt-2026-remuneration.toml`), read with the same
checked accessors as the configuration: an unknown key, a wrong type or a band overlap stops
with a `GridError` naming the file and the dotted key.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from decimal import Decimal
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from fmt_plugin.config import ZONES, Section
from fmt_plugin.errors import ConfigError

DEFAULT_GRID = "fmt-2026-remuneration"
MAJORATION_KINDS = ("zone", "primo_installation", "doctor_age")
#: Ages beyond this are not people: the bands are checked for gaps up to it.
_OLDEST = 130


class GridError(ConfigError):
    """The remuneration grid is malformed; `path` and `key` say where."""


@dataclass(frozen=True)
class SocleBand:
    """One band of the forfait socle: ALD or not, completed ages `min_age`..`max_age`."""

    id: str
    label: str
    ald: bool
    min_age: int
    max_age: int | None
    amount: Decimal

    def covers(self, *, age: int, ald: bool) -> bool:
        """True when a patient of this age and ALD situation falls in this band."""
        below_max = self.max_age is None or age <= self.max_age
        return self.ald == ald and self.min_age <= age and below_max


@dataclass(frozen=True)
class Majoration:
    """A doctor-level majoration of the socle, in percent; see the grid file for the kinds."""

    id: str
    label: str
    kind: str
    percent: int
    zones: tuple[str, ...] = ()
    installation_year: int | None = None
    min_age: int | None = None
    confirmed: bool = True


@dataclass(frozen=True)
class RemunerationGrid:
    """The whole grid of one FMT year series."""

    id: str
    version: str
    first_year: int
    bands: tuple[SocleBand, ...]
    c2s_supplement: Decimal
    socle_payment_months: tuple[int, ...]
    majorations: tuple[Majoration, ...]
    prevention_year_offset: int
    prevention_months: tuple[int, int]

    def band_of(self, *, age: int, ald: bool) -> SocleBand:
        """The band a patient falls in (the grid is checked to have exactly one)."""
        return next(b for b in self.bands if b.covers(age=age, ald=ald))


def default_grid_source() -> Traversable:
    """The grid shipped with fmt-plugin."""
    return files("fmt_plugin.remuneration").joinpath(f"{DEFAULT_GRID}.toml")


def load_default_grid() -> RemunerationGrid:
    """The shipped grid, validated."""
    return load_grid(default_grid_source())


def load_grid(source: Path | Traversable) -> RemunerationGrid:
    """Read and validate the grid at `source`; raises `GridError`."""
    path = Path(str(source))
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise GridError(f"grille de rémunération illisible ({exc})", path=path) from exc
    root = Section(data, name="", source=path, base_dir=path.parent)
    try:
        return _grid(root)
    except GridError:
        raise
    except ConfigError as exc:
        raise GridError(
            exc.message, path=exc.path, key=exc.key, expected=exc.expected
        ) from exc


def _grid(root: Section) -> RemunerationGrid:
    socle = root.table("socle", required=True)
    prevention = root.table("prevention", required=True)
    grid = RemunerationGrid(
        id=root.string("id"),
        version=root.string("version"),
        first_year=root.integer("first_year", minimum=2000),
        bands=_bands(socle),
        c2s_supplement=Decimal(socle.integer("c2s_supplement_eur", minimum=0)),
        socle_payment_months=_months(socle, "payment_months"),
        majorations=_majorations(root),
        prevention_year_offset=prevention.integer(
            "payment_year_offset", minimum=0, maximum=2
        ),
        prevention_months=(
            prevention.integer("payment_from_month", minimum=1, maximum=12),
            prevention.integer("payment_to_month", minimum=1, maximum=12),
        ),
    )
    socle.finish()
    prevention.finish()
    root.finish()
    return grid


def _months(section: Section, key: str) -> tuple[int, ...]:
    months = section.value(key, expected="une liste de mois (1 à 12)")
    valid = isinstance(months, list) and months and months == sorted(set(months))
    if not valid or not all(isinstance(m, int) and 1 <= m <= 12 for m in months):
        raise section.error(key, "mois invalides", "des mois de 1 à 12, croissants")
    return tuple(months)


def _tables(section: Section, key: str) -> list[Section]:
    items = section.value(key, expected="une liste de tables")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise section.error(key, "type invalide", "une liste de tables [[...]]")
    return [
        Section(
            item,
            name=f"{section.dotted(key)}[{index}]",
            source=section.source,
            base_dir=section.base_dir,
        )
        for index, item in enumerate(items)
    ]


def _bands(socle: Section) -> tuple[SocleBand, ...]:
    bands = []
    for table in _tables(socle, "bands"):
        bands.append(
            SocleBand(
                id=table.string("id"),
                label=table.string("label"),
                ald=table.boolean("ald"),
                min_age=table.integer("min_age", minimum=0),
                max_age=table.integer("max_age", None, minimum=0)
                if "max_age" in table
                else None,
                amount=Decimal(table.integer("amount_eur", minimum=0)),
            )
        )
        table.finish()
    _check_partition(socle, bands)
    return tuple(bands)


def _check_partition(socle: Section, bands: list[SocleBand]) -> None:
    """Every (ALD, age) up to `_OLDEST` falls in exactly one band."""
    for ald in (False, True):
        for age in range(_OLDEST + 1):
            found = [b.id for b in bands if b.covers(age=age, ald=ald)]
            if len(found) != 1:
                what = "aucune tranche" if not found else "tranches " + ", ".join(found)
                raise socle.error(
                    "bands",
                    f"{what} pour {age} ans {'avec' if ald else 'sans'} ALD",
                    "une seule tranche par âge, avec et sans ALD",
                )


def _majorations(root: Section) -> tuple[Majoration, ...]:
    majorations = []
    for table in _tables(root, "majorations"):
        kind = table.string("kind", choices=MAJORATION_KINDS)
        majorations.append(
            Majoration(
                id=table.string("id"),
                label=table.string("label"),
                kind=kind,
                percent=table.integer("percent", minimum=0, maximum=100),
                zones=_zones(table) if kind != "doctor_age" else (),
                installation_year=table.integer("installation_year", minimum=1)
                if kind == "primo_installation"
                else None,
                min_age=table.integer("min_age", minimum=18)
                if kind == "doctor_age"
                else None,
                confirmed=table.boolean("confirmed", True),
            )
        )
        table.finish()
    return tuple(majorations)


def _zones(table: Section) -> tuple[str, ...]:
    zones = table.string_list("zones")
    unknown = [z for z in zones if z not in ZONES]
    if unknown or not zones:
        raise table.error("zones", "zones invalides", " ou ".join(ZONES[1:]))
    return zones
