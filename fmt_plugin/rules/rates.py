"""Taux d'atteinte and potentiel FMT: counts over a practice's evaluations (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fmt_plugin.rules.model import PatientEvaluation, Status
from fmt_plugin.rules.pack import RulePack


@dataclass(frozen=True)
class IndicatorRate:
    """Status counts of one indicator; taux = fait / (fait + à vérifier).

    `hors_fmt` counts the patients only recommended (pregnancy, BMI ≥ 40…), whatever their
    status: they are recalled but the FMT does not count them, so neither do the others.

    `rattrapage` counts the `a_verifier` that are catch-ups (a child's age window closed):
    they stay in the taux, the child not being validated, but no act can earn them.
    """

    indicator: str
    fait: int = 0
    a_verifier: int = 0
    a_venir: int = 0
    exclu: int = 0
    hors_fmt: int = 0
    rattrapage: int = 0

    @property
    def denominator(self) -> int:
        """Patients the taux is computed over (à venir and exclus are left out)."""
        return self.fait + self.a_verifier

    @property
    def taux(self) -> float | None:
        """The taux d'atteinte rounded to 3 decimals; None when nobody counts."""
        if self.denominator == 0:
            return None
        return round(self.fait / self.denominator, 3)

    def to_dict(self) -> dict[str, Any]:
        """The report's JSON shape."""
        return {
            "fait": self.fait,
            "a_verifier": self.a_verifier,
            "a_venir": self.a_venir,
            "exclu": self.exclu,
            "hors_fmt": self.hors_fmt,
            "rattrapage": self.rattrapage,
            "taux": self.taux,
        }


@dataclass(frozen=True)
class FmtPotential:
    """What the validated indicators pay (majoration prévention) and what is still open."""

    fait: int
    a_verifier: int
    fee_eur: int

    @property
    def earned_eur(self) -> int:
        """fee × indicators `fait`."""
        return self.fait * self.fee_eur

    @property
    def missed_eur(self) -> int:
        """fee × indicators `à vérifier`."""
        return self.a_verifier * self.fee_eur

    def to_dict(self) -> dict[str, Any]:
        """The report's JSON shape."""
        return {
            "fait": self.fait,
            "a_verifier": self.a_verifier,
            "montant_par_indicateur_eur": self.fee_eur,
            "acquis_eur": self.earned_eur,
            "manque_eur": self.missed_eur,
        }


_FIELDS = {
    Status.FAIT: "fait",
    Status.A_VERIFIER: "a_verifier",
    Status.A_VENIR: "a_venir",
    Status.EXCLU: "exclu",
}


def compute_rates(
    pack: RulePack, evaluations: Iterable[PatientEvaluation]
) -> dict[str, IndicatorRate]:
    """One rate per indicator of the pack (zeros included), in the pack's order."""
    return count_rates(
        pack,
        (
            (indicator, status.status, status.hors_fmt, status.catch_up)
            for evaluation in evaluations
            for indicator, status in evaluation.statuses.items()
        ),
    )


def count_rates(
    pack: RulePack, statuses: Iterable[tuple[str, str, bool, bool]]
) -> dict[str, IndicatorRate]:
    """The rates over `(indicator, status, hors_fmt, catch_up)` tuples, in the pack's order.

    What `compute_rates` counts, from statuses remembered rather than evaluated (the
    dashboard's). An indicator the pack no longer has is left out.
    """
    names = (*_FIELDS.values(), "hors_fmt", "rattrapage")
    counts = {i: dict.fromkeys(names, 0) for i in pack.indicator_ids}
    for indicator, status, hors_fmt, catch_up in statuses:
        counted = counts.get(indicator)
        if counted is None:
            continue
        if hors_fmt:  # recalled, but counted apart from the taux
            counted["hors_fmt"] += 1
            continue
        counted[_FIELDS[Status(status)]] += 1
        if catch_up:
            counted["rattrapage"] += 1
    return {i: IndicatorRate(i, **c) for i, c in counts.items()}


def fmt_potential(pack: RulePack, rates: Iterable[IndicatorRate]) -> FmtPotential:
    """The potentiel FMT over these rates; catch-ups are not euros still possible."""
    fait = a_verifier = 0
    for rate in rates:
        fait += rate.fait
        a_verifier += rate.a_verifier - rate.rattrapage
    return FmtPotential(fait, a_verifier, pack.fee_per_indicator_eur)
