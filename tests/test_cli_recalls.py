"""`fmt-plugin recalls plan|run|list|retry`, run as a user would, on the public scenario."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from fmt_plugin.installation import open_installation
from fmt_plugin.timezone import PARIS

AS_OF = "2026-03-15"


@pytest.fixture
def config(scenario_config: Path) -> Path:
    return scenario_config


def _emls(config: Path) -> list[Path]:
    return sorted((config.parent / "outbox").glob("*.eml"))


def test_plan_json_lists_patient_indicators_step_and_channel(run_cli, config):
    """Each planned recall carries patient_id, indicators, step and channel."""
    result = run_cli(
        "--config", config, "recalls", "plan", "--as-of", AS_OF, "--format", "json"
    )
    assert result.returncode == 0, result.stderr
    recalls = json.loads(result.stdout)["recalls"]
    assert recalls
    for recall in recalls:
        assert set(recall) >= {"patient_id", "indicators", "step", "channel"}
        assert recall["step"] == 1
        assert recall["channel"] == "file"


def test_plan_writes_nothing(run_cli, config):
    """`recalls plan` leaves the outbox empty and sends nothing."""
    assert (
        run_cli("--config", config, "recalls", "plan", "--as-of", AS_OF).returncode == 0
    )
    with open_installation(config) as installation:
        assert installation.store.outbox.entries() == []
    assert _emls(config) == []


def test_plan_text_names_patients_by_internal_id_only(run_cli, config, public_scenario):
    """The text plan shows internal ids and indicators, never a name."""
    result = run_cli("--config", config, "recalls", "plan", "--as-of", AS_OF)
    assert "patient Q02 (aux parents)" in result.stdout
    roster = (public_scenario / "roster.csv").read_text(encoding="utf-8")
    surname = roster.splitlines()[1].split(",")[2]
    assert surname
    assert surname not in result.stdout


def test_run_sends_each_recall_once(run_cli, config):
    """A second run the same day plans and sends nothing new."""
    planned = json.loads(
        run_cli(
            "--config", config, "recalls", "plan", "--as-of", AS_OF, "--format", "json"
        ).stdout
    )["recalls"]
    first = run_cli("--config", config, "recalls", "run", "--as-of", AS_OF)
    second = run_cli("--config", config, "recalls", "run", "--as-of", AS_OF)
    assert first.returncode == second.returncode == 0
    assert f"Envoi : {len(planned)} envoyé(s)" in first.stdout
    assert "0 nouveau(x) message(s)" in second.stdout
    assert len(_emls(config)) == len(planned)


def test_list_filters_by_state(run_cli, config):
    """`recalls list --state sent` shows the sent ones; `--state dead` none."""
    run_cli("--config", config, "recalls", "run", "--as-of", AS_OF)
    sent = run_cli("--config", config, "recalls", "list", "--state", "sent")
    dead = run_cli("--config", config, "recalls", "list", "--state", "dead")
    assert sent.stdout.count("envoyé") == len(_emls(config))
    assert dead.stdout == "Aucun rappel.\n"


def test_retry_puts_an_uncertain_recall_back_in_the_queue(run_cli, config):
    """After a person checked it, an uncertain recall is queued again and then sent."""
    run_cli("--config", config, "recalls", "plan", "--as-of", AS_OF)
    now = datetime(2026, 3, 16, 9, 0, tzinfo=PARIS)
    from fmt_plugin.recalls import jobs

    recall_id = jobs.run_planning(config, now)[0]
    with open_installation(config) as installation:
        outbox = installation.store.outbox
        outbox.mark_sending(recall_id, channel="file", now=now)
        outbox.mark_uncertain(recall_id, reason="test", now=now)
    result = run_cli("--config", config, "recalls", "retry", str(recall_id))
    assert result.returncode == 0, result.stderr
    with open_installation(config) as installation:
        entry = installation.store.outbox.get(recall_id)
    assert entry is not None
    assert entry.state == "planned"


def test_retry_of_an_unknown_recall_is_a_usage_error(run_cli, config):
    """An unknown id is refused, naming it."""
    result = run_cli("--config", config, "recalls", "retry", "999")
    assert result.returncode == 2
    assert "999" in result.stderr
