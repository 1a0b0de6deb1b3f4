"""Taux d'atteinte and potentiel FMT over statuses: who counts, who is only listed."""

from __future__ import annotations

from datetime import date

import pytest

from fmt_plugin.rules.model import IndicatorStatus, PatientEvaluation, Status
from fmt_plugin.rules.pack import load_default_pack
from fmt_plugin.rules.rates import compute_rates, fmt_potential

AS_OF = date(2025, 11, 20)
DUE = date(2025, 10, 14)


@pytest.fixture(scope="module")
def pack():
    return load_default_pack()


def flu(
    patient_id: str, status: Status, *, hors_fmt: bool = False
) -> PatientEvaluation:
    return PatientEvaluation(
        patient_id,
        AS_OF,
        {"vacc_grippe": IndicatorStatus("vacc_grippe", status, DUE, hors_fmt=hors_fmt)},
    )


def test_hors_fmt_patients_are_counted_apart_from_the_taux(pack):
    """A pregnant woman (reco:grippe) neither raises nor lowers the practice's flu taux."""
    rates = compute_rates(
        pack,
        [
            flu("P1", Status.FAIT),
            flu("P2", Status.A_VERIFIER),
            flu("P3", Status.A_VERIFIER, hors_fmt=True),
            flu("P4", Status.FAIT, hors_fmt=True),
        ],
    )
    rate = rates["vacc_grippe"]
    assert (rate.fait, rate.a_verifier, rate.hors_fmt) == (1, 1, 2)
    assert rate.taux == 0.5
    assert rate.to_dict()["hors_fmt"] == 2


def test_hors_fmt_patients_earn_and_miss_no_euros(pack):
    """The potentiel FMT counts 5 € for the FMT patients only."""
    rates = compute_rates(
        pack,
        [flu("P1", Status.FAIT), flu("P3", Status.A_VERIFIER, hors_fmt=True)],
    )
    potential = fmt_potential(pack, rates.values())
    assert (potential.earned_eur, potential.missed_eur) == (5, 0)
