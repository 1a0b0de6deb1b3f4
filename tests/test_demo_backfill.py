"""The demo back-fills a month-end taux snapshot over its three years, so `history` has a trend."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from conftest import cli

from fmt_plugin.adapters.demo import config_block
from fmt_plugin.demo.backfill import snapshot_days
from fmt_plugin.demo.practice import DemoSettings
from fmt_plugin.scaffold import InitOptions, init_installation

AS_OF = "2026-03-15"
DEMO_ARGS = ("--once", "--as-of", AS_OF, "--mllp-port", "0", "--http-port", "0")


@dataclass(frozen=True)
class Demo:
    folder: Path
    config: Path
    first: list[tuple[object, ...]]  # rate_snapshots rows after the first run
    second: list[tuple[object, ...]]  # and after the second


def snapshot_rows(folder: Path) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(folder / "fmt.sqlite3")) as conn:
        return conn.execute(
            "SELECT * FROM rate_snapshots ORDER BY day, indicator"
        ).fetchall()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """A 200-patient demo run twice with `--once` on the same folder."""
    cwd = tmp_path_factory.mktemp("backfill")
    folder = cwd / "demo"
    settings = DemoSettings(reference_date=date(2026, 3, 15), patients=200)
    init_installation(
        InitOptions(directory=folder, adapter_block=config_block(settings)),
        actor="test",
    )
    rows = []
    for _ in range(2):
        result = cli(cwd, "demo", folder, *DEMO_ARGS)
        assert result.returncode == 0, result.stdout + result.stderr
        rows.append(snapshot_rows(folder))
    return Demo(folder, folder / "fmt.toml", rows[0], rows[1])


pytestmark = pytest.mark.slow


def history_json(demo: Demo, days: int) -> dict[str, dict[str, dict[str, object]]]:
    result = cli(
        demo.folder, "--config", demo.config, "history", "--days", str(days),
        "--format", "json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    days_kept: dict[str, dict[str, dict[str, object]]] = json.loads(result.stdout)[
        "jours"
    ]
    return days_kept


def test_snapshot_days_are_the_month_ends_of_the_history_then_as_of():
    """36 month ends from 31/03/2023 to 28/02/2026, then the evaluation day."""
    days = snapshot_days(date(2023, 3, 15), date(2026, 3, 15))
    assert len(days) == 37
    assert days[:2] == [date(2023, 3, 31), date(2023, 4, 30)]
    assert days[-3:] == [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 15)]


def test_a_month_end_on_the_evaluation_day_is_not_taken_twice():
    """When as_of is a month end, it is the last day once."""
    days = snapshot_days(date(2023, 2, 28), date(2026, 2, 28))
    assert days[-2:] == [date(2026, 1, 31), date(2026, 2, 28)]
    assert len(days) == len(set(days))


def test_the_first_demo_run_leaves_a_monthly_history_of_three_years(demo):
    """`history` holds every month end of the three years and the demo's day."""
    kept = history_json(demo, 100)
    assert list(kept) == [
        d.isoformat() for d in snapshot_days(date(2023, 3, 15), date(2026, 3, 15))
    ]
    assert set(kept[AS_OF]) >= {"dep_sein", "vacc_grippe", "suivi_hba1c"}


def test_history_shows_the_last_months_as_a_trend(demo):
    """The default table's columns are the last six month ends and the demo's day."""
    result = cli(demo.folder, "--config", demo.config, "history")
    header = result.stdout.splitlines()[0].split()
    assert header[1:8] == [
        "30/09/2025", "31/10/2025", "30/11/2025", "31/12/2025", "31/01/2026",
        "28/02/2026", "15/03/2026",
    ]  # fmt: skip
    assert header[-1] == "évolution"


@pytest.mark.parametrize("month_end", ["2024-06-30", "2025-12-31"])
def test_a_month_end_counts_what_the_report_said_that_day(demo, month_end):
    """Done and to-check counts of a month end are the report's at that date."""
    report = cli(
        demo.folder, "--config", demo.config, "report", "--as-of", month_end,
        "--format", "json",
    )  # fmt: skip
    rates = json.loads(report.stdout)["rates"]
    snapshot = history_json(demo, 100)[month_end]
    for indicator, counts in snapshot.items():
        expected = rates[indicator]
        assert (counts["fait"], counts["a_verifier"], counts["taux"]) == (
            expected["fait"],
            expected["a_verifier"],
            expected["taux"],
        ), indicator


def test_the_history_grows_as_the_years_went(demo):
    """Three years ago little was known yet: far fewer acts counted than today."""
    kept = history_json(demo, 100)
    done = {
        day: sum(int(r["fait"]) for r in rates.values()) for day, rates in kept.items()
    }
    assert done["2023-03-31"] < done[AS_OF] / 2


def test_running_the_demo_again_leaves_the_history_as_it_was(demo):
    """The second run records nothing new and replaces nothing (taken_at unchanged)."""
    assert demo.second == demo.first
    assert len({row[0] for row in demo.first}) == 37
