"""The taux d'atteinte over time, from the nightly snapshots: one row per indicator, one column per day."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date

from fmt_plugin.rules.pack import RulePack
from fmt_plugin.rules.rates import IndicatorRate
from fmt_plugin.views.columns import aligned_numbers
from fmt_plugin.views.french import day, percent, points

History = Mapping[date, Sequence[IndicatorRate]]


def latest(history: History, days: int) -> dict[date, dict[str, IndicatorRate]]:
    """The `days` most recent snapshots, oldest first, rates by indicator."""
    kept = sorted(history)[-days:] if days > 0 else []
    return {taken: {rate.indicator: rate for rate in history[taken]} for taken in kept}


def render_history_table(history: History, pack: RulePack, days: int) -> str:
    """Per indicator of the pack, its taux on each kept day and the change in points."""
    kept = latest(history, days)
    if not kept:
        return (
            "Aucun instantané des taux pour l'instant : le service en prend un chaque nuit "
            "(réglage [recalls] snapshot_time).\n"
        )
    header = ("Indicateur", *map(day, kept), "évolution")
    rows: list[tuple[str, ...]] = [header]
    for indicator in pack.indicators:
        taux = [
            rates[indicator.id].taux if indicator.id in rates else None
            for rates in kept.values()
        ]
        rows.append((indicator.label, *map(percent, taux), _change(taux)))
    return "".join(f"{line}\n" for line in aligned_numbers(rows))


def render_history_json(history: History, days: int) -> str:
    """`{"jours": {"2026-03-16": {"vaccin_grippe": {fait, a_verifier, …, taux}}}}`."""
    kept = latest(history, days)
    payload = {
        "jours": {
            taken.isoformat(): {
                indicator: rate.to_dict() for indicator, rate in sorted(rates.items())
            }
            for taken, rates in kept.items()
        }
    }
    return json.dumps(payload, ensure_ascii=False, indent=2) + "\n"


def _change(taux: Sequence[float | None]) -> str:
    """`+2,5 pts` from the first known taux to the last; `—` with fewer than two."""
    known = [value for value in taux if value is not None]
    if len(known) < 2:
        return "—"
    return points(known[-1] - known[0])
