"""Messages per patient and indicator over weeks of scheduled recalls on the demo practice.

Runs `tests/recall_simulation.py` (the driver of the 90-day test: planning at 08:00, delivery
at 10:00, acts arriving day by day) and reports what the patients would have received: the
letters per (patient, indicator) pair and per patient, the smallest gaps, and the outbox's
daily intake. These are the figures of issue 13's closing note; the test asserts the
invariants, this prints the distribution.

    python bench/recall_simulation.py                  # 90 days from 2026-09-14
    python bench/recall_simulation.py --days 30 --json
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path
from typing import Any

# The driver lives beside the test that asserts the invariants on the same runs.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from recall_simulation import Simulation, simulate


def pair_figures(simulation: Simulation) -> dict[str, Any]:
    """Per indicator: pairs written to, letters, how many letters each pair got, least gap."""
    per_indicator: dict[str, dict[str, Any]] = {}
    for (_, indicator), items in simulation.items_by_indicator().items():
        sent = sorted(i.sent_on for i in items if i.sent_on is not None)
        figures = per_indicator.setdefault(
            indicator,
            {"pairs": 0, "letters": 0, "letters_per_pair": Counter(), "gaps": []},
        )
        figures["pairs"] += 1
        figures["letters"] += len(sent)
        figures["letters_per_pair"][len(sent)] += 1
        figures["gaps"] += [(b - a).days for a, b in itertools.pairwise(sent)]
    return {
        indicator: {
            "pairs": f["pairs"],
            "letters": f["letters"],
            "letters_per_pair": dict(sorted(f["letters_per_pair"].items())),
            "least_gap_days": min(f["gaps"], default=None),
        }
        for indicator, f in sorted(per_indicator.items())
    }


def patient_figures(simulation: Simulation) -> dict[str, Any]:
    """Letters per patient (one per patient and day at most) and the least gap between two."""
    days: dict[str, set[date]] = defaultdict(set)
    for item in simulation.history:
        if item.sent_on is not None:
            days[item.patient_id].add(item.sent_on)
    gaps = [
        (b - a).days
        for sent in days.values()
        for a, b in itertools.pairwise(sorted(sent))
    ]
    return {
        "patients_written_to": len(days),
        "letters": sum(len(d) for d in days.values()),
        "letters_per_patient": dict(
            sorted(Counter(len(d) for d in days.values()).items())
        ),
        "least_gap_days": min(gaps, default=None),
    }


def queue_figures(simulation: Simulation) -> dict[str, Any]:
    """Items queued by the planning each day: the first day, then the busiest days."""
    queued = simulation.queued_per_day
    first = simulation.first_day
    later = {d: n for d, n in queued.items() if d != first}
    busiest = sorted(later.items(), key=lambda kv: -kv[1])[:6]
    return {
        "first_day": queued.get(first, 0),
        "busiest_days": {d.isoformat(): n for d, n in sorted(busiest)},
        "quiet_days": sum(1 for n in later.values() if n == 0),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the simulation and print its figures (text, or JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", type=date.fromisoformat, default=date(2026, 9, 14))
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    # The demo practice sends some messages for unknown patients on purpose (quarantine
    # demo): their warnings are not what this report is about.
    logging.getLogger("fmt_plugin").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        simulation = simulate(Path(folder) / "sim", args.start, args.days)
        elapsed = time.perf_counter() - started
    report = {
        "start": args.start.isoformat(),
        "days": args.days,
        "items": len(simulation.history),
        "seconds": round(elapsed, 1),
        "patients": patient_figures(simulation),
        "indicators": pair_figures(simulation),
        "queue": queue_figures(simulation),
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_text(report)
    return 0


def print_text(report: dict[str, Any]) -> None:
    """The figures as a plain-text report."""
    patients = report["patients"]
    print(
        f"{report['days']} days from {report['start']}: {report['items']} outbox items, "
        f"{report['seconds']} s"
    )
    print(
        f"patients written to: {patients['patients_written_to']}, letters: "
        f"{patients['letters']}, letters per patient: {patients['letters_per_patient']}, "
        f"least gap between two letters to a patient: {patients['least_gap_days']} days"
    )
    print(
        f"{'indicator':<20} {'pairs':>6} {'letters':>8}  letters per pair   least gap"
    )
    for indicator, f in report["indicators"].items():
        print(
            f"{indicator:<20} {f['pairs']:>6} {f['letters']:>8}  "
            f"{f['letters_per_pair']!s:<18} {f['least_gap_days']}"
        )
    queue = report["queue"]
    print(
        f"queued on the first day: {queue['first_day']}; busiest later days: "
        f"{queue['busiest_days']}; days with nothing queued: {queue['quiet_days']}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
