"""`fmt-plugin snapshot [--as-of D]`: the nightly taux snapshot taken now, read back from the store."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from fmt_plugin.installation import open_installation
from fmt_plugin.timezone import today_in_paris
from fmt_plugin.views.french import day

AS_OF = "2026-03-15"


@pytest.fixture
def config(installation: Path, run_cli) -> Path:
    """The public scenario made by `init`, synced, its messages imported."""
    assert run_cli("--config", installation, "sync").returncode == 0
    scenario = Path(__file__).parent / "data" / "public_scenario" / "messages"
    assert run_cli("--config", installation, "import", scenario).returncode == 0
    return installation


def kept(config: Path) -> dict[date, dict[str, dict[str, object]]]:
    with open_installation(config) as installation:
        history = installation.store.snapshots.history()
    return {
        d: {r.indicator: r.to_dict() for r in rates} for d, rates in history.items()
    }


def test_snapshot_as_of_keeps_the_counts_report_gives_that_day(run_cli, config):
    """The counts recorded for --as-of are the report's rates at that date."""
    result = run_cli("--config", config, "snapshot", "--as-of", AS_OF)
    assert result.returncode == 0, result.stderr
    report = run_cli("--config", config, "report", "--as-of", AS_OF, "--format", "json")
    assert kept(config) == {date(2026, 3, 15): json.loads(report.stdout)["rates"]}


def test_snapshot_prints_the_day_and_each_indicators_counts(run_cli, config):
    """The output names the day (JJ/MM/AAAA) and gives one row per indicator with its taux."""
    result = run_cli("--config", config, "snapshot", "--as-of", AS_OF)
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "Instantané des taux du 15/03/2026 enregistré (jeu fmt-2026, 8 patients) :"
    )
    breast = next(line for line in lines if "Dépistage cancer du sein" in line)
    assert breast.split()[-6:] == ["1", "1", "0", "0", "50,0", "%"]
    assert len([line for line in lines if line.startswith("  ")]) == 1 + 15


def test_history_shows_the_snapshot_taken(run_cli, config):
    """`history` has a column for the day just snapshotted."""
    run_cli("--config", config, "snapshot", "--as-of", AS_OF)
    history = run_cli("--config", config, "history")
    assert "15/03/2026" in history.stdout.splitlines()[0]


def test_a_second_snapshot_of_the_same_day_replaces_the_first(run_cli, config):
    """Two snapshots of one day leave one set of counts: the later one's."""
    run_cli("--config", config, "snapshot", "--as-of", AS_OF)
    run_cli("--config", config, "override", "Q05", "dep_sein", "--kind", "exclusion",
            "--reason", "mastectomie", "--author", "Dr Martin",
            "--recorded-on", AS_OF)  # fmt: skip
    run_cli("--config", config, "snapshot", "--as-of", AS_OF)
    (counts,) = kept(config).values()
    assert counts["dep_sein"]["exclu"] == 1


def test_a_future_day_is_refused_and_nothing_is_kept(run_cli, config):
    """A snapshot of a day to come is a usage error; the store keeps nothing."""
    tomorrow = today_in_paris() + timedelta(days=1)
    result = run_cli("--config", config, "snapshot", "--as-of", tomorrow.isoformat())
    assert result.returncode == 2
    assert f"--as-of {day(tomorrow)}" in result.stderr
    assert kept(config) == {}


def test_a_past_day_does_not_touch_the_remembered_statuses(run_cli, config):
    """Status changes are tracked by today's snapshot only, not by a past day's."""
    result = run_cli("--config", config, "snapshot", "--as-of", AS_OF)
    assert "que par l'instantané du jour" in result.stdout
    with open_installation(config) as installation:
        assert installation.store.statuses.all() == {}


def test_todays_snapshot_is_the_nightly_job_statuses_included(run_cli, config):
    """Without --as-of: today's counts, and every patient's statuses remembered."""
    result = run_cli("--config", config, "snapshot")
    assert result.returncode == 0, result.stderr
    assert f"du {day(today_in_paris())} enregistré" in result.stdout
    assert "changements de statut transmis aux adaptateurs" in result.stdout
    assert list(kept(config)) == [today_in_paris()]
    with open_installation(config) as installation:
        assert len(installation.store.statuses.all()) == 8
