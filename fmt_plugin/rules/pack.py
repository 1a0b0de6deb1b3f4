"""Rule packs: the indicators as data (TOML), read and validated into frozen dataclasses.

A pack says who is in each indicator's population, what excludes them, which coded evidence
counts and in which window. The engine (`engine.py`) only interprets these shapes, so a practice
changes a period, a code list or a season's dates by editing data. A malformed pack is refused
with a `PackError` naming the file, the indicator and the key. Format: `docs/rule-packs.md`.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from enum import Enum
from functools import cached_property
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal

from fmt_plugin.config import Section
from fmt_plugin.errors import ConfigError
from fmt_plugin.model import KNOWN_CODE_SYSTEMS, Patient
from fmt_plugin.rules.dates import Age, AgeSpecError

PACK_FORMAT = 1
DEFAULT_PACK_ID = "fmt-2026"
GROUPS = ("vaccination", "depistage", "suivi")
#: Systems whose codes are numbers: `03` and `3` are the same CVX code; ranges are allowed.
NUMERIC_SYSTEMS = frozenset({"CVX", "NABM"})
#: Systems whose codes match by prefix: an ATC level covers every code below it.
PREFIX_SYSTEMS = frozenset({"ATC"})
DueIfNone = Literal["entry", "as_of", "last_birthday"]
#: The territory whose seasons `[seasons]` describes; the others are `[territories.<name>]`.
DEFAULT_TERRITORY = "metropole"


class PackError(ConfigError):
    """A rule pack is malformed; `indicator` names the indicator at fault, when there is one."""

    def __init__(
        self,
        message: str,
        *,
        path: Path | str | None = None,
        key: str | None = None,
        expected: str | None = None,
        indicator: str | None = None,
    ) -> None:
        self.indicator = indicator
        super().__init__(message, path=path, key=key, expected=expected)

    @classmethod
    def from_config_error(cls, exc: ConfigError, indicator: str | None) -> PackError:
        """The same error, marked as a rule-pack error of `indicator`."""
        return cls(
            exc.message,
            path=exc.path,
            key=exc.key,
            expected=exc.expected,
            indicator=indicator,
        )


# --- building blocks ------------------------------------------------------------------------


def normalize_system(system: str) -> str:
    """Code systems are compared upper-case, without surrounding spaces."""
    return system.strip().upper()


def normalize_code(system: str, code: str) -> str:
    """A code in the form the pack stores it (`03` → `3` for numeric systems)."""
    text = code.strip().upper()
    if system in NUMERIC_SYSTEMS and _DIGITS.fullmatch(text):
        return str(int(text))
    return text


def normalize_condition(code: str) -> str:
    """CIM-10 codes compare without dots or case: `e11.9` and `E119` are the same."""
    return code.replace(".", "").strip().upper()


@dataclass(frozen=True)
class CodeList:
    """A named list of codes that count as one kind of evidence (e.g. `fit`)."""

    name: str
    label: str
    exact: frozenset[tuple[str, str]]
    prefixes: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Criteria:
    """Clinical markers of a patient; matched when the patient has any one of them."""

    ald: frozenset[int] = frozenset()
    conditions: tuple[str, ...] = ()
    flags: frozenset[str] = frozenset()

    @property
    def empty(self) -> bool:
        """True when no marker is listed (the criteria then impose nothing)."""
        return not (self.ald or self.conditions or self.flags)

    def matches(self, patient: Patient) -> bool:
        """True when the patient has one of the ALD, a condition under a prefix, or a flag."""
        if self.ald & patient.ald or self.flags & patient.flags:
            return True
        if not self.conditions:
            return False
        codes = [normalize_condition(c) for c in patient.conditions]
        return any(code.startswith(self.conditions) for code in codes)

    def union(self, other: Criteria) -> Criteria:
        """Markers of both."""
        return Criteria(
            self.ald | other.ald,
            tuple(dict.fromkeys(self.conditions + other.conditions)),
            self.flags | other.flags,
        )

    def markers_of(self, patient: Patient) -> Markers:
        """The patient's own markers among these: ALD numbers, condition codes, flags."""
        conditions: tuple[str, ...] = ()
        if self.conditions:
            conditions = tuple(
                sorted(
                    code
                    for code in patient.conditions
                    if normalize_condition(code).startswith(self.conditions)
                )
            )
        return Markers(
            tuple(sorted(self.ald & patient.ald)),
            conditions,
            tuple(sorted(self.flags & patient.flags)),
        )


@dataclass(frozen=True)
class Markers:
    """Markers a patient has: the ALD numbers, the condition codes as recorded, the flags."""

    ald: tuple[int, ...] = ()
    conditions: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.ald or self.conditions or self.flags)

    def __add__(self, other: Markers) -> Markers:
        return Markers(
            tuple(dict.fromkeys(self.ald + other.ald)),
            tuple(dict.fromkeys(self.conditions + other.conditions)),
            tuple(dict.fromkeys(self.flags + other.flags)),
        )


@dataclass(frozen=True)
class AgeBounds:
    """Ages from `minimum` (reached) up to, not including, `until`: "50–74 inclusive".

    `maximum` is the inclusive maximum as the pack writes it (`74y`, `35m`), kept for the
    views: `until` alone would make "up to 35 months" read "under 3 years".
    """

    minimum: Age | None = None
    until: Age | None = None
    maximum: Age | None = None

    @property
    def empty(self) -> bool:
        """True when no bound is set (every age is inside)."""
        return self.minimum is None and self.until is None

    @property
    def maximum_in_years(self) -> bool:
        """True when the maximum was written in years (`74y` lasts until 75)."""
        if self.maximum is None or self.until is None:
            return False
        return self.until.months - self.maximum.months == 12

    def contains(self, birth_date: date | None, on: date) -> bool:
        """True when a person born on `birth_date` is within the bounds on `on`."""
        if self.minimum is None and self.until is None:
            return True
        if birth_date is None:
            return False
        if self.minimum is not None and self.minimum.birthday(birth_date) > on:
            return False
        return self.until is None or on < self.until.birthday(birth_date)


class Inclusion(Enum):
    """How a patient is in an indicator's population."""

    FMT = "fmt"  # in a group the FMT pays for
    HORS_FMT = "hors_fmt"  # only in groups recommended beyond the FMT


@dataclass(frozen=True)
class PopulationGroup:
    """One way into a population: an age range and, when given, one of some markers.

    `fmt` is False for a group the HAS recommends but the FMT does not pay for (pregnancy,
    BMI ≥ 40: `reco:grippe`): its patients are listed and recalled, *hors FMT*.
    """

    ages: AgeBounds
    criteria: Criteria
    fmt: bool = True

    def includes(self, patient: Patient, as_of: date) -> bool:
        """True when the patient fits this group at `as_of`."""
        if not self.ages.contains(patient.birth_date, as_of):
            return False
        return self.criteria.empty or self.criteria.matches(patient)


@dataclass(frozen=True)
class Population:
    """Who the indicator concerns: sex and age, then any one of the groups (if listed)."""

    sex: str | None
    ages: AgeBounds
    any_of: tuple[PopulationGroup, ...]

    def includes(self, patient: Patient, as_of: date) -> bool:
        """True when the patient belongs to the population at `as_of`."""
        return self.inclusion(patient, as_of) is not None

    def inclusion(self, patient: Patient, as_of: date) -> Inclusion | None:
        """How the patient is in the population at `as_of`: for the FMT, only recommended
        (every group they fit says `fmt = false`: hors FMT), or not at all (None)."""
        if self.sex is not None and patient.sex != self.sex:
            return None
        if not self.ages.contains(patient.birth_date, as_of):
            return None
        if not self.any_of:
            return Inclusion.FMT
        fitting = [g for g in self.any_of if g.includes(patient, as_of)]
        if not fitting:
            return None
        return Inclusion.FMT if any(g.fmt for g in fitting) else Inclusion.HORS_FMT

    def membership(self, patient: Patient, as_of: date) -> Membership | None:
        """Why the patient is in the population at `as_of`; None when they are not.

        A group the patient enters by a marker is told by the markers alone: its age floor
        (grippe: 6 months and an ALD) would only repeat what the patient's age makes obvious.
        """
        if not self.includes(patient, as_of):
            return None
        ages = [] if self.ages.empty else [self.ages]
        markers = Markers()
        for group in self.any_of:
            if not group.includes(patient, as_of):
                continue
            if group.criteria.empty:
                if not group.ages.empty and group.ages not in ages:
                    ages.append(group.ages)
            else:
                markers += group.criteria.markers_of(patient)
        return Membership(self.sex, tuple(ages), markers)

    def entry_date(self, patient: Patient) -> date | None:
        """The day the patient entered the population by age (None without an age floor)."""
        if self.ages.minimum is None or patient.birth_date is None:
            return None
        return self.ages.minimum.birthday(patient.birth_date)


@dataclass(frozen=True)
class Membership:
    """The rules of a population a patient meets: its sex, the age bounds, their markers."""

    sex: str | None
    ages: tuple[AgeBounds, ...]
    markers: Markers


@dataclass(frozen=True)
class Exclusion:
    """A reason not to screen: markers of the patient, or recent evidence (a colonoscopy)."""

    label: str
    criteria: Criteria
    evidence: tuple[str, ...] = ()
    within_months: int | None = None


@dataclass(frozen=True)
class Alternative:
    """Evidence from these lists, in the last `period_months`, for patients of these ages."""

    evidence: tuple[str, ...]
    period_months: int
    ages: AgeBounds


@dataclass(frozen=True)
class Requirement:
    """One thing that must be done; any one of its alternatives satisfies it."""

    label: str
    alternatives: tuple[Alternative, ...]


@dataclass(frozen=True)
class RollingRule:
    """Every requirement met within its rolling period `(D − period, D]`."""

    requirements: tuple[Requirement, ...]
    due_if_none: DueIfNone


@dataclass(frozen=True)
class ScheduledDose:
    """When the next dose is due: the latest of an age, a delay after the previous dose, D."""

    age: Age | None = None
    after_previous_months: int | None = None
    as_of: bool = False


@dataclass(frozen=True)
class DosesRule:
    """`doses` doses given at the ages `given`, spaced by at least the minimum interval."""

    evidence: tuple[str, ...]
    doses: int
    given: AgeBounds
    min_interval_days: int
    min_interval_months: int
    schedule: tuple[ScheduledDose, ...]


@dataclass(frozen=True)
class SeasonalRule:
    """One dose in the current vaccination season (see `Seasons`)."""

    evidence: tuple[str, ...]


@dataclass(frozen=True)
class CalendarYearRule:
    """At least `count` pieces of evidence, on distinct days, in the calendar year of D."""

    evidence: tuple[str, ...]
    count: int


Rule = RollingRule | DosesRule | SeasonalRule | CalendarYearRule
RULE_KINDS = ("rolling", "doses", "seasonal", "calendar_year")
#: The name that selects an indicator's own rule, beside its named variants.
DEFAULT_VARIANT = "default"


@dataclass(frozen=True)
class RuleVariant:
    """Another reading of an indicator's rule, which a practice selects by configuration."""

    name: str
    label: str
    source: str
    rule: Rule


@dataclass(frozen=True)
class Indicator:
    """One FMT indicator: who, what excludes, what counts, and where the rule comes from.

    `variants` are the other rules the pack offers for it; `variant` names the one in use
    (None: the indicator's own rule, `DEFAULT_VARIANT`).
    """

    id: str
    label: str
    group: str
    source: str
    population: Population
    exclusions: tuple[Exclusion, ...]
    rule: Rule
    #: A few words for tables where 15 indicators share the screen ("Cancer du col").
    short_label: str = ""
    variants: tuple[RuleVariant, ...] = ()
    variant: str | None = None

    @property
    def variant_names(self) -> tuple[str, ...]:
        """The names a configuration may select: `default`, then the pack's variants."""
        return (DEFAULT_VARIANT, *(v.name for v in self.variants))

    def with_variant(self, name: str) -> Indicator:
        """The indicator evaluated by the variant `name`; KeyError when it has none."""
        if name == DEFAULT_VARIANT:
            return self
        for variant in self.variants:
            if variant.name == name:
                return replace(
                    self, rule=variant.rule, source=variant.source, variant=name
                )
        raise KeyError(name)

    @property
    def column_label(self) -> str:
        """The short label, or the label when the pack gives none."""
        return self.short_label or self.label

    def code_lists(self) -> tuple[str, ...]:
        """Names of every code list this indicator reads (evidence and exclusions)."""
        names: list[str] = []
        rule = self.rule
        if isinstance(rule, RollingRule):
            for requirement in rule.requirements:
                for alternative in requirement.alternatives:
                    names.extend(alternative.evidence)
        else:
            names.extend(rule.evidence)
        for exclusion in self.exclusions:
            names.extend(exclusion.evidence)
        return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class Campaign:
    """A vaccination season's campaign: recalls and `due` start at `start`.

    `confirmed` is False for dates the pack assumes (the usual start) until the official
    ones are published: the practice is shown so.
    """

    start: date
    end: date
    confirmed: bool = True
    source: str = ""


@dataclass(frozen=True)
class Seasons:
    """Flu and covid seasons: season Y holds evidence from Y-09-01 to the end of February Y+1."""

    evidence_start: tuple[int, int]
    default_campaign_start: tuple[int, int]
    campaigns: Mapping[int, Campaign]
    #: The territory these seasons are for, as `[practice] territory` names it.
    territory: str = DEFAULT_TERRITORY
    label: str = "Métropole"

    def season_of(self, on: date) -> int:
        """The current season at `on`; from March to August, the one that just ended."""
        month, day = self.evidence_start
        return on.year if (on.month, on.day) >= (month, day) else on.year - 1

    def window(self, season: int) -> tuple[date, date]:
        """The first and last day on which a vaccination counts for `season`."""
        month, day = self.evidence_start
        start = date(season, month, day)
        return start, _season_end(start)

    def campaign(self, season: int) -> Campaign:
        """The campaign of `season`: from the pack, or the default start to the season's end."""
        if season in self.campaigns:
            return self.campaigns[season]
        month, day = self.default_campaign_start
        return Campaign(
            date(season, month, day), self.window(season)[1], confirmed=False
        )


@dataclass(frozen=True)
class Decision:
    """A choice the pack makes where no public source settles a point, or a datum to confirm.

    `kind` is "decision" (the behaviour is defined by us, for a stated reason) or
    "a_confirmer" (taken from a source we could not check: codes, dates).
    """

    topic: str
    text: str
    kind: str
    source: str = ""
    indicator: str | None = None


@dataclass(frozen=True)
class RulePack:
    """A validated rule pack; `indicators` keep the pack's order."""

    id: str
    label: str
    version: str
    source: str
    origin: str
    recall_horizon_days: int
    fee_per_indicator_eur: int
    seasons: Seasons
    code_lists: Mapping[str, CodeList]
    indicators: tuple[Indicator, ...]
    #: The seasons of each territory (the default one, métropole, included).
    territories: Mapping[str, Seasons] = field(default_factory=dict)
    decisions: tuple[Decision, ...] = ()

    def for_territory(self, territory: str) -> RulePack:
        """The pack with the flu and covid seasons of `territory`; KeyError if unknown."""
        if territory == self.seasons.territory:
            return self
        return replace(self, seasons=self.territories[territory])

    @property
    def indicator_ids(self) -> tuple[str, ...]:
        """The indicator ids, in the pack's order."""
        return tuple(i.id for i in self.indicators)

    def indicator(self, indicator_id: str) -> Indicator:
        """The indicator with this id; KeyError when the pack has none."""
        for indicator in self.indicators:
            if indicator.id == indicator_id:
                return indicator
        raise KeyError(indicator_id)

    def with_variants(self, choices: Mapping[str, str]) -> RulePack:
        """The pack with the rule variant `choices[id]` in use for each listed indicator.

        KeyError for an unknown indicator or variant: the caller checks the names against
        `Indicator.variant_names` first, to say where the choice was written.
        """
        if not choices:
            return self
        unknown = set(choices) - set(self.indicator_ids)
        if unknown:
            raise KeyError(min(unknown))
        indicators = tuple(
            i.with_variant(choices[i.id]) if i.id in choices else i
            for i in self.indicators
        )
        return replace(self, indicators=indicators)

    @cached_property
    def _classifier(self) -> _Classifier:
        # Built on first use and kept with the pack (a frozen dataclass still has a __dict__).
        return _Classifier(self.code_lists.values())

    def classify(self, system: str, code: str) -> frozenset[str]:
        """Names of the code lists a code belongs to (empty when the pack does not know it)."""
        return self._classifier.classify(system, code)

    def knows(self, system: str, code: str) -> bool:
        """True when the code is in at least one of the pack's lists."""
        return bool(self.classify(system, code))


# --- classification -------------------------------------------------------------------------


class _Classifier:
    """Code → list names, by exact lookup then by prefix; built once per pack."""

    def __init__(self, code_lists: Iterable[CodeList]) -> None:
        exact: dict[tuple[str, str], set[str]] = {}
        self._prefixes: list[tuple[str, str, str]] = []
        for code_list in code_lists:
            for key in code_list.exact:
                exact.setdefault(key, set()).add(code_list.name)
            for system, prefix in code_list.prefixes:
                self._prefixes.append((system, prefix, code_list.name))
        self._exact = {key: frozenset(names) for key, names in exact.items()}
        self._cache: dict[tuple[str, str], frozenset[str]] = {}

    def classify(self, system: str, code: str) -> frozenset[str]:
        key = (system, code)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        norm_system = normalize_system(system)
        norm_code = normalize_code(norm_system, code)
        names = set(self._exact.get((norm_system, norm_code), ()))
        for prefix_system, prefix, name in self._prefixes:
            if prefix_system == norm_system and norm_code.startswith(prefix):
                names.add(name)
        result = frozenset(names)
        if (
            len(self._cache) < 100_000
        ):  # bounded: codes are few, but inputs are not trusted
            self._cache[key] = result
        return result


# --- loading --------------------------------------------------------------------------------


def default_pack_resource() -> Traversable:
    """The default pack shipped inside the package."""
    return files("fmt_plugin.rules").joinpath("packs", f"{DEFAULT_PACK_ID}.toml")


def load_default_pack() -> RulePack:
    """The `fmt-2026` pack shipped with fmt-plugin."""
    return load_pack(default_pack_resource())


def load_pack(source: Path | Traversable) -> RulePack:
    """Read and validate one pack file; raise PackError naming file, indicator and key."""
    origin = str(source)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise PackError(f"lecture impossible ({exc.strerror})", path=origin) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PackError(f"TOML invalide : {exc}", path=origin) from exc
    return parse_pack(data, origin=origin)


def parse_pack(data: Mapping[str, Any], *, origin: str) -> RulePack:
    """Validate a parsed pack; `origin` names it in errors."""
    root = Section(data, name="", source=Path(origin), base_dir=Path("."))
    try:
        fmt = root.integer("format")
        if fmt != PACK_FORMAT:
            raise root.error(
                "format", f"version {fmt} non prise en charge", str(PACK_FORMAT)
            )
        pack_id = root.string("id")
        label = root.string("label")
        version = root.string("version")
        source = root.string("source")
        horizon = root.integer("recall_horizon_days", 30, minimum=0)
        fee = root.integer("fee_per_indicator_eur", 5, minimum=0)
        seasons = _parse_seasons(root.table("seasons"))
        territories = {DEFAULT_TERRITORY: seasons}
        for name, sub in _territory_tables(root):
            territories[name] = _parse_seasons(sub, territory=name)
        decisions = _parse_decisions(root)
        markers = _parse_markers(root.table("markers"))
        code_lists = _parse_code_lists(root.table("codes", required=True))
        raw_indicators = root.value(
            "indicators", expected="une liste de tables [[indicators]]"
        )
    except ConfigError as exc:
        raise PackError.from_config_error(exc, None) from exc
    if not isinstance(raw_indicators, list) or not raw_indicators:
        raise PackError(
            "aucun indicateur",
            path=origin,
            key="indicators",
            expected="au moins une table [[indicators]]",
        )
    context = _Context(origin, markers, code_lists)
    indicators = tuple(
        _parse_indicator(raw, position, context)
        for position, raw in enumerate(raw_indicators)
    )
    _check_unique_ids(indicators, origin)
    _check_decisions(decisions, indicators, origin)
    try:
        root.finish()
    except ConfigError as exc:
        raise PackError.from_config_error(exc, None) from exc
    return RulePack(
        id=pack_id,
        label=label,
        version=version,
        source=source,
        origin=origin,
        recall_horizon_days=horizon,
        fee_per_indicator_eur=fee,
        seasons=seasons,
        code_lists=code_lists,
        indicators=indicators,
        territories=territories,
        decisions=decisions,
    )


@dataclass(frozen=True)
class _Context:
    origin: str
    markers: Mapping[str, Criteria]
    code_lists: Mapping[str, CodeList]


_MONTH_DAY = re.compile(r"([0-9]{2})-([0-9]{2})")
#: Codes and ranges of numeric systems; the spec writes ranges with an en dash, accept both.
_DIGITS = re.compile(r"[0-9]+")
_RANGE = re.compile(r"([0-9]+)\s*[-–]\s*([0-9]+)")
_ONE_DAY = timedelta(days=1)


def _season_end(start: date) -> date:
    """The last day of February after a season's start (28 or 29)."""
    return date(start.year + 1, 3, 1) - _ONE_DAY


def _month_day(section: Section, key: str, default: str) -> tuple[int, int]:
    text = section.string(key, default)
    match = _MONTH_DAY.fullmatch(text)
    if match:
        month, day = int(match[1]), int(match[2])
        try:
            date(2001, month, day)  # a common year: 29 February is not a yearly date
        except ValueError:
            pass
        else:
            return month, day
    raise section.error(
        key, f"valeur {text!r} invalide", "un jour MM-JJ, par exemple « 09-01 »"
    )


def _territory_tables(root: Section) -> list[tuple[str, Section]]:
    """`[territories.<name>]`: the seasons of a territory other than métropole."""
    territories = root.table("territories")
    found = []
    for name in territories.names():
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise territories.error(
                name, f"territoire {name!r} invalide", "minuscules, chiffres, _"
            )
        found.append((name, territories.table(name)))
    return found


def _parse_decisions(root: Section) -> tuple[Decision, ...]:
    decisions = []
    for sub in _table_list(root, "decisions"):
        decisions.append(
            Decision(
                topic=sub.string("topic"),
                text=sub.string("text"),
                kind=sub.string("kind", choices=("decision", "a_confirmer")),
                source=sub.string("source", ""),
                indicator=sub.optional_string("indicator"),
            )
        )
        sub.finish()
    return tuple(decisions)


def _parse_seasons(section: Section, territory: str = "metropole") -> Seasons:
    label = section.string(
        "label", "Métropole" if territory == "metropole" else territory
    )
    evidence_start = _month_day(section, "evidence_start", "09-01")
    if evidence_start < (3, 1):
        raise section.error(
            "evidence_start",
            "une saison commence après février et finit fin février",
            "un jour entre « 03-01 » et « 12-31 »",
        )
    default_start = _month_day(section, "default_campaign_start", "10-15")
    if default_start < evidence_start:
        raise section.error(
            "default_campaign_start",
            "la campagne commencerait avant la saison",
            f"un jour à partir du {evidence_start[0]:02d}-{evidence_start[1]:02d}",
        )
    campaigns: dict[int, Campaign] = {}
    for sub in _table_list(section, "campaigns"):
        season = sub.integer("season", minimum=2000)
        start = sub.date("start")
        end = sub.date("end")
        confirmed = sub.boolean("confirmed", True)
        campaign_source = sub.string("source", "")
        sub.finish()
        first, last = (
            date(season, *evidence_start),
            _season_end(date(season, *evidence_start)),
        )
        if not first <= start <= end <= last:
            raise sub.error(
                "start",
                f"campagne {start} → {end} hors de la saison {season}",
                f"des dates entre {first} et {last}",
            )
        if season in campaigns:
            raise sub.error(
                "season", f"saison {season} déjà décrite", "une saison par table"
            )
        campaigns[season] = Campaign(start, end, confirmed, campaign_source)
    section.finish()
    return Seasons(evidence_start, default_start, campaigns, territory, label)


def _parse_markers(section: Section) -> dict[str, Criteria]:
    markers: dict[str, Criteria] = {}
    for name in section.names():
        sub = section.table(name)
        sub.string("label")
        markers[name] = _parse_criteria(sub, {})
        sub.finish()
    section.finish()
    return markers


def _parse_code_lists(section: Section) -> dict[str, CodeList]:
    lists: dict[str, CodeList] = {}
    for name in section.names():
        sub = section.table(name)
        label = sub.string("label")
        exact: set[tuple[str, str]] = set()
        prefixes: list[tuple[str, str]] = []
        for system in sub.names():
            if system == "label":
                continue
            if system not in KNOWN_CODE_SYSTEMS:
                raise sub.error(
                    system,
                    "système de codes inconnu",
                    " | ".join(sorted(KNOWN_CODE_SYSTEMS)),
                )
            for code in sub.string_list(system):
                if system in PREFIX_SYSTEMS:
                    prefixes.append((system, _prefix(sub, system, code)))
                else:
                    exact.update((system, c) for c in _expand(sub, system, code))
        sub.finish()
        if not exact and not prefixes:
            raise section.error(name, "liste de codes vide", "au moins un code")
        lists[name] = CodeList(name, label, frozenset(exact), tuple(prefixes))
    section.finish()
    return lists


def _prefix(section: Section, system: str, code: str) -> str:
    prefix = normalize_code(system, code)
    if len(prefix) < 3:  # "" or "J" would match whole chapters of medicines
        raise section.error(
            system, f"préfixe {code!r} trop court", "au moins 3 caractères"
        )
    return prefix


def _expand(section: Section, system: str, code: str) -> list[str]:
    text = code.strip()
    if not text:
        raise section.error(system, "code vide", "un code non vide")
    if system not in NUMERIC_SYSTEMS:
        return [normalize_code(system, text)]
    if _DIGITS.fullmatch(text):
        return [normalize_code(system, text)]
    match = _RANGE.fullmatch(text)
    if match is None:
        raise section.error(
            system,
            f"code {code!r} invalide",
            "des chiffres, ou un intervalle « 500-521 »",
        )
    low, high = int(match[1]), int(match[2])
    if low > high or high - low > 10_000:
        raise section.error(
            system, f"intervalle {code!r} invalide", "« bas-haut », bas ≤ haut"
        )
    return [str(n) for n in range(low, high + 1)]


def _parse_ald(section: Section) -> frozenset[int]:
    raw = section.value(
        "ald", [], expected="une liste de numéros d'ALD (entiers ou « 5-10 »)"
    )
    expected = "une liste de numéros d'ALD (entiers ou « 5-10 »)"
    if not isinstance(raw, list):
        raise section.error("ald", "type invalide", expected)
    numbers: set[int] = set()
    for item in raw:
        if isinstance(item, int) and not isinstance(item, bool) and 1 <= item <= 32:
            numbers.add(item)
            continue
        match = _RANGE.fullmatch(item) if isinstance(item, str) else None
        if match and 1 <= int(match[1]) <= int(match[2]) <= 32:
            numbers.update(range(int(match[1]), int(match[2]) + 1))
            continue
        raise section.error("ald", f"élément {item!r} invalide", expected)
    return frozenset(numbers)


def _parse_criteria(section: Section, markers: Mapping[str, Criteria]) -> Criteria:
    criteria = Criteria(
        ald=_parse_ald(section),
        conditions=tuple(
            normalize_condition(c) for c in section.string_list("conditions")
        ),
        flags=frozenset(section.string_list("flags")),
    )
    for name in section.string_list("markers"):
        if name not in markers:
            known = ", ".join(sorted(markers)) or "aucun"
            raise section.error(
                "markers", f"marqueur « {name} » non défini", f"un de : {known}"
            )
        criteria = criteria.union(markers[name])
    return criteria


def _parse_age(section: Section, key: str) -> Age | None:
    text = section.optional_string(key)
    if text is None:
        return None
    try:
        return Age.parse(text)
    except AgeSpecError as exc:
        raise section.error(key, str(exc), "« 65y » ou « 6m »") from exc


def _parse_bounds(
    section: Section, low: str = "min_age", high: str = "max_age"
) -> AgeBounds:
    """`min_age`/`max_age` inclusive, as the spec says them; `max_age = "74y"` ends at 75."""
    minimum = _parse_age(section, low)
    maximum = _parse_age(section, high)
    until = None
    if maximum is not None:
        text = section.raw[high]
        until = Age(maximum.months + (12 if text.endswith("y") else 1))
    if minimum is not None and until is not None and until <= minimum:
        raise section.error(
            high, "âge maximum inférieur à l'âge minimum", f"≥ {minimum}"
        )
    return AgeBounds(minimum, until, maximum)


def _evidence_names(section: Section, key: str, context: _Context) -> tuple[str, ...]:
    names = section.string_list(key)
    if not names:
        raise section.error(key, "liste vide", "au moins une liste de codes")
    for name in names:
        if name not in context.code_lists:
            known = ", ".join(sorted(context.code_lists))
            raise section.error(
                key, f"liste de codes « {name} » non définie", f"une de : {known}"
            )
    return names


def _parse_indicator(raw: Any, position: int, context: _Context) -> Indicator:
    if not isinstance(raw, Mapping):
        raise PackError(
            "type invalide",
            path=context.origin,
            key=f"indicators[{position}]",
            expected="une table",
        )
    ident = raw.get("id")
    name = (
        f"indicators.{ident}" if isinstance(ident, str) else f"indicators[{position}]"
    )
    section = Section(raw, name=name, source=Path(context.origin), base_dir=Path("."))
    indicator_id = ident if isinstance(ident, str) else None
    try:
        return _indicator_from(section, context)
    except ConfigError as exc:
        raise PackError.from_config_error(exc, indicator_id) from exc


def _indicator_from(section: Section, context: _Context) -> Indicator:
    indicator_id = section.string("id")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", indicator_id):
        raise section.error(
            "id", f"identifiant {indicator_id!r} invalide", "minuscules, chiffres, _"
        )
    label = section.string("label")
    short_label = section.string("short_label", "")
    group = section.string("group", choices=GROUPS)
    source = section.string("source")
    population = _parse_population(section.table("population", required=True), context)
    exclusions = _parse_exclusions(section, context)
    rule = _parse_rule(section, context, population)
    variants = _parse_variants(section, context, population)
    section.finish()
    return Indicator(
        indicator_id,
        label,
        group,
        source,
        population,
        exclusions,
        rule,
        short_label=short_label,
        variants=variants,
    )


def _parse_rule(section: Section, context: _Context, population: Population) -> Rule:
    """The rule of `section` (an indicator, or one of its variants), by its `rule` kind."""
    kind = section.string("rule", choices=RULE_KINDS)
    if kind == "rolling":
        return _parse_rolling(section, context, population)
    if kind == "doses":
        return _parse_doses(section, context)
    if kind == "calendar_year":
        return CalendarYearRule(
            _evidence_names(section, "evidence", context),
            section.integer("count", minimum=1),
        )
    return SeasonalRule(_evidence_names(section, "evidence", context))


def _parse_variants(
    section: Section, context: _Context, population: Population
) -> tuple[RuleVariant, ...]:
    """`[[indicators.variants]]`: named rules a configuration may select instead."""
    variants: list[RuleVariant] = []
    for sub in _table_list(section, "variants"):
        name = sub.string("name")
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or name == DEFAULT_VARIANT:
            raise sub.error(
                "name",
                f"nom de variante {name!r} invalide",
                f"minuscules, chiffres, _ ; autre que « {DEFAULT_VARIANT} »",
            )
        if any(v.name == name for v in variants):
            raise sub.error(
                "name", f"variante « {name} » déjà décrite", "des noms uniques"
            )
        variant = RuleVariant(
            name,
            sub.string("label"),
            sub.string("source"),
            _parse_rule(sub, context, population),
        )
        sub.finish()
        variants.append(variant)
    return tuple(variants)


def _parse_population(section: Section, context: _Context) -> Population:
    sex = section.optional_string("sex")
    if sex is not None and sex not in ("F", "M"):
        raise section.error("sex", f"valeur {sex!r} invalide", "'F' ou 'M'")
    ages = _parse_bounds(section)
    groups = []
    for sub in _table_list(section, "any"):
        groups.append(
            PopulationGroup(
                _parse_bounds(sub),
                _parse_criteria(sub, context.markers),
                fmt=sub.boolean("fmt", True),
            )
        )
        sub.finish()
    section.finish()
    return Population(sex, ages, tuple(groups))


def _table_list(section: Section, key: str) -> list[Section]:
    """An optional array of tables; the caller reads each one, then calls `finish()` on it."""
    raw = section.value(key, [], expected="une liste de tables")
    if not isinstance(raw, list):
        raise section.error(key, "type invalide", "une liste de tables")
    subs = []
    for position, item in enumerate(raw):
        name = f"{section.dotted(key)}[{position}]"
        if not isinstance(item, Mapping):
            raise section.error(f"{key}[{position}]", "type invalide", "une table")
        subs.append(
            Section(item, name=name, source=section.source, base_dir=section.base_dir)
        )
    return subs


def _parse_exclusions(section: Section, context: _Context) -> tuple[Exclusion, ...]:
    exclusions = []
    for sub in _table_list(section, "exclusions"):
        label = sub.string("label")
        criteria = _parse_criteria(sub, context.markers)
        evidence: tuple[str, ...] = ()
        within = None
        if "evidence" in sub:
            evidence = _evidence_names(sub, "evidence", context)
            # Without a window, an act excludes for good (a total hysterectomy).
            within = (
                sub.integer("within_months", minimum=1)
                if "within_months" in sub
                else None
            )
        if criteria.empty and not evidence:
            raise sub.error(
                "label",
                "exclusion sans critère",
                "ald, conditions, flags, markers ou evidence",
            )
        sub.finish()
        exclusions.append(Exclusion(label, criteria, evidence, within))
    return tuple(exclusions)


def _parse_rolling(
    section: Section, context: _Context, population: Population
) -> RollingRule:
    due_if_none = section.string(
        "due_if_none", "entry", choices=("entry", "as_of", "last_birthday")
    )
    if due_if_none == "entry" and population.ages.minimum is None:
        raise section.error(
            "due_if_none",
            "« entry » demande un âge minimum de population",
            "'as_of' ou 'last_birthday'",
        )
    requirements: list[Requirement] = []
    if "requirements" in section:
        for sub in _table_list(section, "requirements"):
            label = sub.string("label")
            alternatives = []
            for alt in _table_list(sub, "any"):
                alternatives.append(_parse_alternative(alt, context))
                alt.finish()
            if not alternatives:
                raise sub.error("any", "aucune alternative", "au moins une table")
            sub.finish()
            requirements.append(Requirement(label, tuple(alternatives)))
    else:
        alternative = _parse_alternative(section, context)
        requirements.append(Requirement(section.string("label"), (alternative,)))
    if not requirements:
        raise section.error("requirements", "aucune exigence", "au moins une table")
    return RollingRule(tuple(requirements), due_if_none)  # type: ignore[arg-type]


def _parse_alternative(section: Section, context: _Context) -> Alternative:
    return Alternative(
        evidence=_evidence_names(section, "evidence", context),
        period_months=section.integer("period_months", minimum=1),
        ages=_parse_bounds(section),
    )


def _parse_doses(section: Section, context: _Context) -> DosesRule:
    evidence = _evidence_names(section, "evidence", context)
    doses = section.integer("doses", minimum=1)
    given = _parse_bounds(section, "given_from", "given_until")
    days = section.integer("min_interval_days", 0, minimum=0)
    months = section.integer("min_interval_months", 0, minimum=0)
    schedule: list[ScheduledDose] = []
    for sub in _table_list(section, "schedule"):
        dose = ScheduledDose(
            age=_parse_age(sub, "age"),
            after_previous_months=sub.integer("after_previous_months", minimum=1)
            if "after_previous_months" in sub
            else None,
            as_of=sub.boolean("as_of", False),
        )
        sub.finish()
        if dose.age is None and dose.after_previous_months is None and not dose.as_of:
            raise sub.error(
                "age", "échéance vide", "age, after_previous_months ou as_of"
            )
        schedule.append(dose)
    if len(schedule) != doses:
        raise section.error(
            "schedule",
            f"{len(schedule)} échéance(s) pour {doses} dose(s)",
            "une table par dose",
        )
    if schedule[0].after_previous_months is not None:
        raise section.error(
            "schedule", "la 1re dose n'a pas de dose précédente", "age ou as_of"
        )
    return DosesRule(evidence, doses, given, days, months, tuple(schedule))


def _check_decisions(
    decisions: tuple[Decision, ...], indicators: tuple[Indicator, ...], origin: str
) -> None:
    """A decision about an indicator must name one of the pack's."""
    ids = {i.id for i in indicators}
    for position, decision in enumerate(decisions):
        if decision.indicator is not None and decision.indicator not in ids:
            raise PackError(
                f"indicateur « {decision.indicator} » inconnu",
                path=origin,
                key=f"decisions[{position}].indicator",
                expected=", ".join(sorted(ids)),
            )


def _check_unique_ids(indicators: tuple[Indicator, ...], origin: str) -> None:
    seen: set[str] = set()
    for indicator in indicators:
        if indicator.id in seen:
            raise PackError(
                "indicateur décrit deux fois",
                path=origin,
                key=f"indicators.{indicator.id}.id",
                expected="des identifiants uniques",
                indicator=indicator.id,
            )
        seen.add(indicator.id)
