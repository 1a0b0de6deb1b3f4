"""What `fmt-plugin snapshot` recorded: the day, the counts per indicator and their taux."""

from __future__ import annotations

from fmt_plugin.evaluation import PracticeEvaluation
from fmt_plugin.views.columns import aligned_numbers
from fmt_plugin.views.french import day, number, percent

HEADERS = ("Indicateur", "fait", "à vérifier", "à venir", "exclu", "taux d'atteinte")


def render_snapshot(practice: PracticeEvaluation, status_changes: int | None) -> str:
    """The counts kept for `practice.as_of`, one row per indicator of the pack.

    `status_changes` is how many changes the adapters were told, None when the snapshot
    was not today's (statuses are then not tracked).
    """
    pack = practice.pack
    rows: list[tuple[str, ...]] = [HEADERS]
    for indicator, rate in practice.rates.items():
        counts = (rate.fait, rate.a_verifier, rate.a_venir, rate.exclu)
        rows.append(
            (pack.indicator(indicator).label, *map(number, counts), percent(rate.taux))
        )
    lines = [
        (
            f"Instantané des taux du {day(practice.as_of)} enregistré (jeu {pack.id}, "
            f"{number(len(practice.patients))} patients) :"
        ),
        *(f"  {line}" for line in aligned_numbers(rows)),
    ]
    if status_changes is None:
        lines.append(
            "Jour passé : les changements de statut ne sont transmis aux adaptateurs "
            "que par l'instantané du jour."
        )
    else:
        changes = "changement" if status_changes == 1 else "changements"
        lines.append(
            f"{number(status_changes)} {changes} de statut transmis aux adaptateurs."
        )
    lines.append(
        "Un autre instantané du même jour remplace celui-ci ; « fmt-plugin history » "
        "montre l'évolution."
    )
    return "\n".join(lines) + "\n"
