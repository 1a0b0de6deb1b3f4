"""`recalls plan` and `recalls list` as the practice reads them: French words, Paris times."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from fmt_plugin.installation import open_installation
from fmt_plugin.recalls import jobs
from fmt_plugin.rules.pack import load_default_pack

AS_OF = "2026-03-15"
#: 08:30 UTC on 16 March 2026 is 09:30 in Paris (winter time).
QUEUED_AT = datetime(2026, 3, 16, 8, 30, tzinfo=UTC)
#: 12:00 UTC on 1 July 2026 is 14:00 in Paris (summer time).
SUMMER = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def queued(scenario_config: Path) -> list[int]:
    """The scenario's recalls queued (not sent) at QUEUED_AT; their ids."""
    ids = jobs.run_planning(
        scenario_config, QUEUED_AT.astimezone(ZoneInfo("Europe/Paris"))
    )
    assert len(ids) >= 3
    return ids


def paris(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo("Europe/Paris")).strftime("%d/%m/%Y %H:%M")


def line_of(stdout: str, recall_id: int) -> str:
    (line,) = [x for x in stdout.splitlines() if x.startswith(f"n° {recall_id} ")]
    return line


def test_list_shows_creation_times_on_the_paris_clock(run_cli, scenario_config, queued):
    """Created at 08:30 UTC in March: `créé le 16/03/2026 09:30`, never an ISO time."""
    result = run_cli("--config", scenario_config, "recalls", "list")
    assert result.returncode == 0, result.stderr
    assert f"planifié  canal -  0 essais  créé le {paris(QUEUED_AT)}" in line_of(
        result.stdout, queued[0]
    )
    assert "16/03/2026 09:30" in result.stdout
    assert not re.search(r"\d{4}-\d{2}-\d{2}", result.stdout)


def test_list_shows_when_a_message_was_sent(run_cli, scenario_config, queued):
    """A sent message reads `envoyé le 01/07/2026 14:00` (summer time)."""
    with open_installation(scenario_config) as installation:
        installation.store.outbox.mark_sending(queued[0], channel="file", now=SUMMER)
        installation.store.outbox.mark_sent(queued[0], now=SUMMER)
    result = run_cli("--config", scenario_config, "recalls", "list")
    assert "envoyé le 01/07/2026 14:00  canal file  1 essai" in line_of(
        result.stdout, queued[0]
    )


def test_list_shows_when_a_failed_message_is_tried_again(
    run_cli, scenario_config, queued
):
    """A temporary failure reads `échoué, nouvel essai le …` in Paris time."""
    retry_at = datetime(2026, 7, 1, 12, 5, tzinfo=UTC)
    with open_installation(scenario_config) as installation:
        outbox = installation.store.outbox
        outbox.mark_sending(queued[1], channel="file", now=SUMMER)
        outbox.mark_failed(
            queued[1], next_attempt_at=retry_at, error="disque plein", now=SUMMER
        )
    result = run_cli("--config", scenario_config, "recalls", "list", "--etat", "echoue")
    assert result.stdout.splitlines() == [
        line_of(result.stdout, queued[1]),
    ]
    assert "échoué, nouvel essai le 01/07/2026 14:05" in result.stdout
    assert result.stdout.rstrip().endswith("— disque plein")


def test_an_uncertain_message_says_how_to_resend_it(run_cli, scenario_config, queued):
    """`incertain (à vérifier, puis recalls retry N)`."""
    with open_installation(scenario_config) as installation:
        outbox = installation.store.outbox
        outbox.mark_sending(queued[2], channel="file", now=SUMMER)
        outbox.mark_uncertain(queued[2], reason="test", now=SUMMER)
    result = run_cli(
        "--config", scenario_config, "recalls", "list", "--state", "uncertain"
    )
    assert f"incertain (à vérifier, puis recalls retry {queued[2]})" in result.stdout


def test_the_french_state_filter_matches_the_english_one(
    run_cli, scenario_config, queued
):
    """`--etat planifié` and `--state planned` list the same messages."""
    french = run_cli(
        "--config", scenario_config, "recalls", "list", "--etat", "planifié"
    )
    english = run_cli(
        "--config", scenario_config, "recalls", "list", "--state", "planned"
    )
    assert french.stdout == english.stdout
    assert french.stdout.count("planifié") == len(queued)


def test_plan_text_names_the_indicators_by_their_french_label(run_cli, scenario_config):
    """The text plan shows "Vaccination pneumocoque", not the id `vaccin_pneumo`."""
    text = run_cli("--config", scenario_config, "recalls", "plan", "--as-of", AS_OF)
    plan = run_cli(
        "--config",
        scenario_config,
        "recalls",
        "plan",
        "--as-of",
        AS_OF,
        "--format",
        "json",
    )
    pack = load_default_pack()
    ids = {i for r in json.loads(plan.stdout)["recalls"] for i in r["indicators"]}
    assert ids
    for indicator in ids:
        assert pack.indicator(indicator).label in text.stdout
        assert f" {indicator}" not in text.stdout
    assert "Rappels à envoyer au 15/03/2026" in text.stdout


def test_plan_json_keeps_the_iso_date(run_cli, scenario_config):
    """JSON stays a program's contract: `as_of` is ISO."""
    result = run_cli(
        "--config",
        scenario_config,
        "recalls",
        "plan",
        "--as-of",
        "15/03/2026",
        "--format",
        "json",
    )
    assert json.loads(result.stdout)["as_of"] == AS_OF
