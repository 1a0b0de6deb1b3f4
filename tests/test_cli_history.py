"""`fmt-plugin history`: the taux d'atteinte of the nightly snapshots, as a table or JSON."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from conftest import RunCli

from fmt_plugin.installation import open_installation
from fmt_plugin.recalls import jobs
from fmt_plugin.rules import Override, OverrideKind
from fmt_plugin.timezone import PARIS

FIRST = datetime(2026, 3, 16, 2, 0, tzinfo=PARIS)
SECOND = datetime(2026, 3, 17, 2, 0, tzinfo=PARIS)


def test_without_snapshot_history_says_when_one_is_taken(scenario_config, run_cli):
    """A new installation has no snapshot yet: the table says when the first comes."""
    result = run_cli("--config", scenario_config, "history")
    assert result.returncode == 0, result.stderr
    assert "chaque nuit" in result.stdout


def test_history_shows_one_column_per_snapshot_day(scenario_config, run_cli):
    """Two nights: two dated columns, every indicator of the pack as a row."""
    jobs.run_snapshot(scenario_config, FIRST)
    jobs.run_snapshot(scenario_config, SECOND)
    result = run_cli("--config", scenario_config, "history")
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert "16/03/2026" in header
    assert "17/03/2026" in header
    assert len(rows) == 15
    assert any("Vaccination grippe" in row for row in rows)


def _exclude_one(config: Path, indicator: str, patient_id: str) -> None:
    with open_installation(config) as installation:
        installation.store.add_override(
            Override(
                patient_id,
                indicator,
                OverrideKind.EXCLUSION,
                author="Dr Test",
                recorded_on=FIRST.date(),
                reason="test",
            ),
            actor="test",
        )


def test_history_json_gives_the_counts_of_each_day(
    scenario_config: Path, run_cli: RunCli
):
    """JSON: counts and taux per day and indicator; a decision shows in the next night's."""
    jobs.run_snapshot(scenario_config, FIRST)
    first = json.loads(
        run_cli("--config", scenario_config, "history", "--format", "json").stdout
    )["jours"]["2026-03-16"]
    indicator = next(i for i, counts in first.items() if counts["a_verifier"] > 0)
    with open_installation(scenario_config) as installation:
        pack_patients = installation.store.patient_ids()
    # Exclude every patient from that indicator: the next night has no one to check.
    for patient_id in pack_patients:
        _exclude_one(scenario_config, indicator, patient_id)
    jobs.run_snapshot(scenario_config, SECOND)
    days = json.loads(
        run_cli("--config", scenario_config, "history", "--format", "json").stdout
    )["jours"]
    assert list(days) == ["2026-03-16", "2026-03-17"]
    assert days["2026-03-17"][indicator]["a_verifier"] == 0
    assert days["2026-03-17"][indicator]["taux"] is None


def test_days_keeps_the_most_recent_snapshots(scenario_config, run_cli):
    """`--days 1` shows only the last night."""
    jobs.run_snapshot(scenario_config, FIRST)
    jobs.run_snapshot(scenario_config, SECOND)
    days = json.loads(
        run_cli(
            "--config", scenario_config, "history", "--days", "1", "--format", "json"
        ).stdout
    )["jours"]
    assert list(days) == ["2026-03-17"]


def test_days_below_one_is_a_usage_error(scenario_config, run_cli):
    """`--days 0` is refused with exit 2."""
    result = run_cli("--config", scenario_config, "history", "--days", "0")
    assert result.returncode == 2
    assert "--days" in result.stderr


def test_the_change_column_is_in_points_from_the_first_to_the_last_day():
    """Flu 40 % then 45 %: `+5,0 pts`; an indicator nobody counts: `—`."""
    from datetime import date

    from fmt_plugin.rules.pack import default_pack_resource, load_pack
    from fmt_plugin.rules.rates import IndicatorRate
    from fmt_plugin.views.rate_history import render_history_table

    pack = load_pack(default_pack_resource())
    flu = pack.indicators[0]
    history = {
        date(2026, 3, 16): [IndicatorRate(flu.id, 40, 60, 0, 0)],
        date(2026, 3, 17): [IndicatorRate(flu.id, 45, 55, 0, 0)],
    }
    lines = render_history_table(history, pack, days=7).splitlines()
    (flu_line,) = [line for line in lines if line.startswith(flu.label)]
    assert "40,0 %" in flu_line
    assert "45,0 %" in flu_line
    assert flu_line.endswith("+5,0 pts")
    other = next(line for line in lines if line.startswith(pack.indicators[1].label))
    assert other.endswith("—")
