"""The pure rules engine: one patient's evidence and overrides in, indicator statuses out.

`evaluate` reads no clock, no file, no hook: everything it needs is an argument, so an
evaluation at a fixed `as_of` is reproducible (tests, audits, "what did we know on 1 March").
The pack (data) says who, what and when; this module only interprets its four shapes:
population, exclusions, and rolling / doses / seasonal / calendar-year rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

from fmt_plugin.model import Patient
from fmt_plugin.rules.dates import add_months, last_birthday
from fmt_plugin.rules.model import (
    Evidence,
    EvidenceSource,
    IndicatorStatus,
    Override,
    OverrideKind,
    PatientEvaluation,
    Status,
)
from fmt_plugin.rules.pack import (
    Alternative,
    CalendarYearRule,
    DosesRule,
    Inclusion,
    Indicator,
    Requirement,
    RollingRule,
    RulePack,
    SeasonalRule,
)

DECLARATION_SYSTEM = "DECLARATION"
DECLARATION_CODE = "fait_ailleurs"


@dataclass(frozen=True)
class _Outcome:
    """What a rule concluded, before overrides and recall flags are applied.

    `period_start` is `IndicatorStatus.period_start`: `due` for a fixed date, the stable
    start of the period for an act due "now", None when unknown or irrelevant (`exclu`).
    `window_closed` is set on a catch-up: the day a child's age window closed.
    """

    status: Status
    due: date | None
    evidence: tuple[Evidence, ...]
    reason: str
    period_start: date | None
    window_closed: date | None = None


@dataclass(frozen=True)
class _Due:
    """When an act is due, and the stable first day of that due period (None: unknown).

    The two differ only for an act never done that is due "now" (the evaluation date):
    `since` is then the day the patient entered the population or the current year of age
    began, so that the period does not move from one day to the next.
    """

    on: date
    since: date | None

    @classmethod
    def fixed(cls, on: date) -> _Due:
        """Due on a date that does not depend on the evaluation date."""
        return cls(on, on)


class _Facts:
    """A patient's counting evidence up to `as_of`, indexed by code list, oldest first."""

    def __init__(
        self, pack: RulePack, evidence: Iterable[Evidence], as_of: date
    ) -> None:
        by_list: dict[str, list[Evidence]] = {}
        declared: dict[str, list[Evidence]] = {}
        for item in sorted(set(evidence), key=_evidence_order):
            if item.date > as_of or not item.counts():
                continue
            if item.indicator is not None:
                # A declaration counts for its indicator alone, whatever its code.
                declared.setdefault(item.indicator, []).append(item)
                continue
            for name in pack.classify(item.system, item.code):
                by_list.setdefault(name, []).append(item)
        self._by_list = by_list
        self._declared = declared

    def of(self, lists: Sequence[str]) -> list[Evidence]:
        """Evidence in any of these lists, oldest first, without duplicates."""
        if len(lists) == 1:
            return self._by_list.get(lists[0], [])
        merged = {item for name in lists for item in self._by_list.get(name, [])}
        return sorted(merged, key=_evidence_order)

    def declared(self, indicator_id: str) -> list[Evidence]:
        """The practice's "fait ailleurs" declarations for this indicator, oldest first."""
        return self._declared.get(indicator_id, [])


def _evidence_order(item: Evidence) -> tuple[date, str, str, str]:
    return (item.date, item.system, item.code, item.source)


def declaration_evidence(override: Override) -> Evidence | None:
    """The evidence a `fait_ailleurs` override stands for (None for other kinds or no date)."""
    if override.kind is not OverrideKind.FAIT_AILLEURS or override.date is None:
        return None
    return Evidence(
        date=override.date,
        system=DECLARATION_SYSTEM,
        code=DECLARATION_CODE,
        source=EvidenceSource.DECLARATION,
        label="Déclaré fait ailleurs",
        indicator=override.indicator,
    )


def evaluate(
    pack: RulePack,
    patient: Patient,
    evidence: Iterable[Evidence],
    overrides: Iterable[Override],
    as_of: date,
) -> PatientEvaluation:
    """Evaluate every indicator whose population includes `patient` at `as_of`.

    `evidence` may hold codes the pack does not know (they are ignored) and results that do not
    count (non-final); `overrides` may hold other patients' decisions and inactive ones (they are
    ignored). Indicators outside the patient's populations are not listed.
    """
    active, items = _patient_inputs(patient, evidence, overrides, as_of)
    return _evaluate_facts(pack, patient, _Facts(pack, items, as_of), active, as_of)


def _patient_inputs(
    patient: Patient,
    evidence: Iterable[Evidence],
    overrides: Iterable[Override],
    as_of: date,
) -> tuple[list[Override], list[Evidence]]:
    """The patient's decisions in force at `as_of`, and the evidence with their declarations."""
    active = [
        o for o in overrides if o.patient_id == patient.patient_id and o.active(as_of)
    ]
    declarations = [d for d in map(declaration_evidence, active) if d is not None]
    return active, [*evidence, *declarations]


def _evaluate_facts(
    pack: RulePack,
    patient: Patient,
    facts: _Facts,
    active: Sequence[Override],
    as_of: date,
) -> PatientEvaluation:
    statuses: dict[str, IndicatorStatus] = {}
    for indicator in pack.indicators:
        inclusion = indicator.population.inclusion(patient, as_of)
        if inclusion is None:
            continue
        mine = [o for o in active if o.indicator == indicator.id]
        status = _evaluate_indicator(pack, indicator, patient, facts, mine, as_of)
        if inclusion is Inclusion.HORS_FMT:
            status = replace(status, hors_fmt=True)
        statuses[indicator.id] = status
    return PatientEvaluation(patient.patient_id, as_of, statuses)


def _evaluate_indicator(
    pack: RulePack,
    indicator: Indicator,
    patient: Patient,
    facts: _Facts,
    overrides: Sequence[Override],
    as_of: date,
) -> IndicatorStatus:
    outcome = _excluded(indicator, patient, facts, overrides, as_of)
    if outcome is None:
        outcome = _apply_rule(pack, indicator, patient, facts, as_of)
    return _finish(pack, indicator, outcome, overrides, as_of)


def _excluded(
    indicator: Indicator,
    patient: Patient,
    facts: _Facts,
    overrides: Sequence[Override],
    as_of: date,
) -> _Outcome | None:
    if any(o.kind is OverrideKind.EXCLUSION for o in overrides):
        return _Outcome(
            Status.EXCLU, None, (), "Exclusion décidée par le cabinet", None
        )
    # Lasting exclusions (conditions, ALD, flags) first: they have no end date, so a recent
    # colonoscopy must not lend them one.
    for exclusion in indicator.exclusions:
        if not exclusion.criteria.empty and exclusion.criteria.matches(patient):
            return _Outcome(Status.EXCLU, None, (), exclusion.label, None)
    for exclusion in indicator.exclusions:
        if not exclusion.evidence:
            continue
        acts = facts.of(exclusion.evidence)
        if not acts:
            continue
        last = acts[-1]
        if exclusion.within_months is None:  # an act that excludes for good
            return _Outcome(Status.EXCLU, None, (last,), exclusion.label, None)
        until = add_months(last.date, exclusion.within_months)
        if until > as_of:
            return _Outcome(Status.EXCLU, until, (last,), exclusion.label, None)
    return None


def _apply_rule(
    pack: RulePack, indicator: Indicator, patient: Patient, facts: _Facts, as_of: date
) -> _Outcome:
    rule = indicator.rule
    if isinstance(rule, RollingRule):
        return _rolling(rule, indicator, patient, facts, as_of)
    if isinstance(rule, DosesRule):
        return _doses(rule, indicator, patient, facts, as_of)
    if isinstance(rule, CalendarYearRule):
        return _calendar_year(rule, indicator, facts, as_of)
    return _seasonal(pack, rule, indicator, facts, as_of)


def _finish(
    pack: RulePack,
    indicator: Indicator,
    outcome: _Outcome,
    overrides: Sequence[Override],
    as_of: date,
) -> IndicatorStatus:
    refused = any(o.kind is OverrideKind.REFUS for o in overrides)
    postponed = [
        o.date
        for o in overrides
        if o.kind is OverrideKind.REPORT and o.date is not None
    ]
    status, due = outcome.status, outcome.due
    overdue = (as_of - due).days if status is Status.A_VERIFIER and due else None
    soon = (
        status in (Status.FAIT, Status.A_VENIR)
        and due is not None
        and 0 < (due - as_of).days <= pack.recall_horizon_days
    )
    return IndicatorStatus(
        indicator=indicator.id,
        status=status,
        due=due,
        evidence=tuple(sorted(outcome.evidence, key=_evidence_order, reverse=True)),
        period_start=outcome.period_start,
        overdue_days=overdue,
        due_soon=soon,
        reason=outcome.reason,
        refused=refused,
        recall_postponed_until=max(postponed) if postponed else None,
        catch_up=outcome.window_closed is not None,
        window_closed=outcome.window_closed,
    )


def _missing_status(due: date, as_of: date) -> Status:
    return Status.A_VERIFIER if due <= as_of else Status.A_VENIR


# --- rolling windows ------------------------------------------------------------------------


@dataclass(frozen=True)
class _RequirementState:
    met: bool
    due: date | None  # expiry if met; when it lapsed (or None: never done) otherwise
    evidence: tuple[Evidence, ...]


def _rolling(
    rule: RollingRule,
    indicator: Indicator,
    patient: Patient,
    facts: _Facts,
    as_of: date,
) -> _Outcome:
    declared = facts.declared(indicator.id)
    states = []
    missing: list[str] = []
    for requirement in rule.requirements:
        state = _requirement_state(requirement, patient, facts, declared, as_of)
        if state is None:
            # No alternative applies at this age: the requirement cannot be met yet, and is
            # due when the first alternative opens (never "fait" by default).
            state = _RequirementState(
                False, _first_opening(requirement, patient, as_of), ()
            )
        states.append(state)
        if not state.met:
            missing.append(requirement.label)
    # One act can meet several requirements (a ratio is both urine analyses): list it once.
    evidence = tuple(dict.fromkeys(e for s in states for e in s.evidence))
    if all(s.met for s in states):
        due = min((s.due for s in states if s.due is not None), default=None)
        return _Outcome(Status.FAIT, due, evidence, "", due)
    never_done = _none_due(rule, indicator, patient, as_of)
    # Lapsed evidence is due from its expiry, but not before the patient entered the
    # population (a test done at 48 does not make a 50-year-old overdue since 50).
    entered = indicator.population.entry_date(patient)
    lapsed = [
        _Due.fixed(max(s.due, entered or s.due)) if s.due else never_done
        for s in states
        if not s.met
    ]
    due = min(d.on for d in lapsed)
    # The period began when the first missing part fell due, in stable dates only.
    since = min((d.since for d in lapsed if d.since is not None), default=None)
    # Name what is missing only when it is a part of the indicator (MRC's three analyses).
    reason = "À faire : " + ", ".join(missing) if len(rule.requirements) > 1 else ""
    return _Outcome(_missing_status(due, as_of), due, evidence, reason, since)


def _first_opening(
    requirement: Requirement, patient: Patient, as_of: date
) -> date | None:
    birth = patient.birth_date
    openings = [
        a.ages.minimum.birthday(birth)
        for a in requirement.alternatives
        if birth is not None and a.ages.minimum is not None
    ]
    future = [d for d in openings if d > as_of]
    return min(future, default=None)


def _requirement_state(
    requirement: Requirement,
    patient: Patient,
    facts: _Facts,
    declared: Sequence[Evidence],
    as_of: date,
) -> _RequirementState | None:
    applicable = [
        a
        for a in requirement.alternatives
        if a.ages.contains(patient.birth_date, as_of)
    ]
    if not applicable:
        return None
    # A declaration does not say which test was done: it counts as the shortest-lived one.
    shortest = min(applicable, key=lambda a: a.period_months)
    met_expiries: list[date] = []
    lapsed_expiries: list[date] = []
    shown: list[Evidence] = []
    for alternative in applicable:
        extra = declared if alternative is shortest else ()
        last = _latest(alternative, facts, extra)
        if last is None:
            continue
        shown.append(last)
        expiry = add_months(last.date, alternative.period_months)
        (met_expiries if expiry > as_of else lapsed_expiries).append(expiry)
    if met_expiries:
        return _RequirementState(True, max(met_expiries), tuple(shown))
    return _RequirementState(False, max(lapsed_expiries, default=None), tuple(shown))


def _latest(
    alternative: Alternative, facts: _Facts, extra: Sequence[Evidence]
) -> Evidence | None:
    candidates = [*facts.of(alternative.evidence), *extra]
    return max(candidates, key=_evidence_order, default=None)


def _none_due(
    rule: RollingRule, indicator: Indicator, patient: Patient, as_of: date
) -> _Due:
    """When an act never done is due: the rule pack's `due_if_none`."""
    birth = patient.birth_date
    entered = indicator.population.entry_date(patient)
    if rule.due_if_none == "entry" and entered is not None:
        return _Due.fixed(entered)
    if rule.due_if_none == "last_birthday" and birth is not None:
        return _Due.fixed(last_birthday(birth, as_of))
    return _Due(as_of, _stable_start(indicator, patient, as_of))


def _stable_start(indicator: Indicator, patient: Patient, as_of: date) -> date | None:
    """The first day of the period of an act never done that is due "now".

    The day the patient entered the population by age when it has an age floor; otherwise
    (a population defined by a condition, whose date the EHR does not give) the start of
    the current year of age, a period that turns once a year (decision, see the rule
    pack's documentation); None without a birth date.
    """
    entered = indicator.population.entry_date(patient)
    if entered is not None:
        return entered
    if patient.birth_date is not None:
        return last_birthday(patient.birth_date, as_of)
    return None


# --- dose series ----------------------------------------------------------------------------


def _doses(
    rule: DosesRule, indicator: Indicator, patient: Patient, facts: _Facts, as_of: date
) -> _Outcome:
    birth = patient.birth_date
    in_window = [
        e for e in facts.of(rule.evidence) if rule.given.contains(birth, e.date)
    ]
    counted = _spaced(rule, in_window)
    declared = [
        e for e in facts.declared(indicator.id) if rule.given.contains(birth, e.date)
    ]
    if declared:
        return _Outcome(Status.FAIT, None, (declared[-1],), "", None)
    if len(counted) >= rule.doses:
        return _Outcome(Status.FAIT, None, tuple(counted), "", None)
    due = _next_dose_due(rule, indicator, patient, counted, as_of)
    reason = (
        f"{len(counted)} dose(s) sur {rule.doses}" if rule.doses > 1 else "Non fait"
    )
    closed = _window_closed(rule, birth, as_of)
    if closed is not None:
        return _catch_up(due, closed, tuple(counted), reason)
    return _Outcome(
        _missing_status(due.on, as_of), due.on, tuple(counted), reason, due.since
    )


def _window_closed(rule: DosesRule, birth: date | None, as_of: date) -> date | None:
    """The day the age window of the doses closed, if it has by `as_of` (else None)."""
    if rule.given.until is None or birth is None:
        return None
    closed = rule.given.until.birthday(birth)
    return closed if closed <= as_of else None


def _catch_up(
    due: _Due, closed: date, counted: tuple[Evidence, ...], reason: str
) -> _Outcome:
    """`a_verifier` for good once the window closed, whatever the next dose's schedule.

    The due date and its period stay those of the missing dose when it fell due within
    the window (the recall cycle does not move the day the window closes); a dose
    scheduled after the window (a first HPV dose at 14 years 11 months) is due from
    the closing day instead, since it can no longer be given in time.
    """
    if due.on <= closed:
        return _Outcome(
            Status.A_VERIFIER, due.on, counted, reason, due.since, window_closed=closed
        )
    return _Outcome(Status.A_VERIFIER, closed, counted, reason, closed, closed)


def _spaced(rule: DosesRule, candidates: Sequence[Evidence]) -> list[Evidence]:
    """The doses that count: each at least the minimum interval after the previous one."""
    counted: list[Evidence] = []
    for item in candidates:
        if counted and not _far_enough(rule, counted[-1].date, item.date):
            continue
        counted.append(item)
    return counted


def _far_enough(rule: DosesRule, previous: date, current: date) -> bool:
    if (current - previous).days < max(rule.min_interval_days, 1):
        return False
    return current >= add_months(previous, rule.min_interval_months)


def _next_dose_due(
    rule: DosesRule,
    indicator: Indicator,
    patient: Patient,
    counted: Sequence[Evidence],
    as_of: date,
) -> _Due:
    step = rule.schedule[len(counted)]
    birth = patient.birth_date
    candidates: list[date] = []
    if step.age is not None and birth is not None:
        candidates.append(step.age.birthday(birth))
    if step.after_previous_months is not None and counted:
        candidates.append(add_months(counted[-1].date, step.after_previous_months))
    if candidates and (not step.as_of or max(candidates) >= as_of):
        return _Due.fixed(max(candidates))
    # Due "now": a single dose at any age, or a schedule with nothing to count from.
    since = max(candidates) if candidates else _stable_start(indicator, patient, as_of)
    return _Due(as_of, since)


# --- calendar years -------------------------------------------------------------------------


def _calendar_year(
    rule: CalendarYearRule, indicator: Indicator, facts: _Facts, as_of: date
) -> _Outcome:
    """`count` acts on distinct days since 1 January of D's year (the ROSP's HbA1c).

    Done: due on 1 January of the next year, when the count starts again. Not done: due
    since 1 January of D's year, the period's stable start, whatever the last year held.
    """
    start = date(as_of.year, 1, 1)
    items = [*facts.of(rule.evidence), *facts.declared(indicator.id)]
    by_day = {e.date: e for e in sorted(items, key=_evidence_order) if e.date >= start}
    if len(by_day) >= rule.count:
        following = date(as_of.year + 1, 1, 1)
        return _Outcome(Status.FAIT, following, tuple(by_day.values()), "", following)
    earlier = [e for e in items if e.date < start]
    latest = sorted(earlier, key=_evidence_order)[-1:]
    shown = tuple(by_day.values()) or tuple(latest)
    reason = f"Année {as_of.year} : {len(by_day)} sur {rule.count}"
    return _Outcome(Status.A_VERIFIER, start, shown, reason, start)


# --- seasons --------------------------------------------------------------------------------


def _seasonal(
    pack: RulePack, rule: SeasonalRule, indicator: Indicator, facts: _Facts, as_of: date
) -> _Outcome:
    seasons = pack.seasons
    season = seasons.season_of(as_of)
    start, end = seasons.window(season)
    vaccinations = [*facts.of(rule.evidence), *facts.declared(indicator.id)]
    current = [e for e in vaccinations if start <= e.date <= end]
    if current:
        next_campaign = seasons.campaign(season + 1).start
        return _Outcome(Status.FAIT, next_campaign, tuple(current), "", next_campaign)
    due = seasons.campaign(season).start
    earlier = [e for e in vaccinations if e.date < start]
    shown = (max(earlier, key=_evidence_order),) if earlier else ()
    reason = f"Pas de vaccination pour la saison {season}-{season + 1}"
    return _Outcome(_missing_status(due, as_of), due, shown, reason, due)


def evaluate_many(
    pack: RulePack,
    patients: Iterable[Patient],
    evidence: Mapping[str, Sequence[Evidence]],
    overrides: Mapping[str, Sequence[Override]],
    as_of: date,
) -> list[PatientEvaluation]:
    """`evaluate` for each patient, with evidence and overrides looked up by patient id."""
    return [
        evaluate(
            pack,
            patient,
            evidence.get(patient.patient_id, ()),
            overrides.get(patient.patient_id, ()),
            as_of,
        )
        for patient in patients
    ]
