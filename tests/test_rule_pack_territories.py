"""Flu and covid seasons per territory, the pack's decisions, and `fmt-plugin rules`."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from conftest import RunCli

from fmt_plugin.errors import ConfigError
from fmt_plugin.rules.pack import (
    PackError,
    default_pack_resource,
    load_default_pack,
    load_pack,
)


@pytest.fixture(scope="module")
def pack():
    return load_default_pack()


@pytest.fixture
def config(scenario_config: Path) -> Path:
    """A fresh installation on the public scenario's CSV files (conftest's `init`)."""
    return scenario_config


def set_territory(tmp_path: Path, territory: str) -> None:
    path = tmp_path / "inst" / "fmt.toml"
    text = path.read_text(encoding="utf-8")
    assert 'territory = "metropole"' in text
    path.write_text(
        text.replace('territory = "metropole"', f'territory = "{territory}"'),
        encoding="utf-8",
    )


def flu_of_garnier(run_cli: RunCli, as_of: str) -> dict:
    result = run_cli(
        "--config", "inst/fmt.toml", "report", "--as-of", as_of, "--format", "json",
        "--indicator", "vacc_grippe",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    patient = next(
        p for p in json.loads(result.stdout)["patients"] if p["patient_id"] == "Q06"
    )
    return patient["indicators"]["vacc_grippe"]


# --- the pack's data ----------------------------------------------------------------------------


def test_the_default_pack_has_the_four_territories_of_the_spec(pack):
    """Métropole, Mayotte, La Réunion, Antilles-Guyane: seasons are data per territory."""
    assert set(pack.territories) == {
        "metropole",
        "mayotte",
        "reunion",
        "antilles_guyane",
    }
    assert pack.seasons.territory == "metropole"


def test_the_2025_campaign_ends_on_28_february_2026_and_is_confirmed(pack):
    """The 2025-26 campaign was extended to 28 February 2026."""
    campaign = pack.seasons.campaign(2025)
    assert (campaign.start, campaign.end, campaign.confirmed) == (
        date(2025, 10, 14),
        date(2026, 2, 28),
        True,
    )


def test_the_2026_campaign_dates_are_marked_unconfirmed(pack):
    """Assumed dates are data the practice is told are not official yet."""
    assert pack.seasons.campaign(2026).confirmed is False


def test_a_season_the_pack_does_not_list_is_unconfirmed(pack):
    """The default mid-October start is never presented as official."""
    assert pack.seasons.campaign(2031).confirmed is False


def test_la_reunion_follows_the_southern_hemisphere(pack):
    """In May the Réunion season of the year is under way; in métropole the last one is over."""
    reunion = pack.for_territory("reunion").seasons
    assert reunion.season_of(date(2026, 5, 1)) == 2026
    assert reunion.campaign(2026).start == date(2026, 4, 15)
    assert pack.seasons.season_of(date(2026, 5, 1)) == 2025


def test_an_unknown_territory_is_a_key_error_of_the_pack(pack):
    """`for_territory` knows only the pack's territories."""
    with pytest.raises(KeyError):
        pack.for_territory("corse")


def test_a_decision_about_an_unknown_indicator_is_refused(tmp_path):
    """A decision must name one of the pack's indicators, with file and key in the error."""
    text = default_pack_resource().read_text(encoding="utf-8")
    path = tmp_path / "cabinet.toml"
    path.write_text(
        text.replace(
            'indicator = "dep_diabete"\nkind', 'indicator = "dep_diabetes"\nkind', 1
        ),
        encoding="utf-8",
    )
    with pytest.raises(PackError) as caught:
        load_pack(path)
    assert caught.value.key == "decisions[0].indicator"
    assert isinstance(caught.value, ConfigError)


def test_the_pack_lists_its_decisions_and_data_to_confirm(pack):
    """Every *decision* of the spec the pack follows is declared, each with a kind."""
    kinds = {d.kind for d in pack.decisions}
    topics = " ".join(d.topic for d in pack.decisions)
    assert kinds == {"decision", "a_confirmer"}
    assert "diabète" in topics
    assert "hystérectomie" in topics
    assert "outre-mer" in topics


# --- through an installation -----------------------------------------------------------------


def test_practice_territory_chooses_the_seasons_of_the_report(
    run_cli, config, tmp_path
):
    """On 1 May 2026 a 77-year-old in La Réunion is due since the local campaign's start."""
    metropole = flu_of_garnier(run_cli, "2026-05-01")
    set_territory(tmp_path, "reunion")
    reunion = flu_of_garnier(run_cli, "2026-05-01")
    assert metropole["due"] == "2025-10-14"
    assert reunion["due"] == "2026-04-15"
    assert reunion["status"] == "a_verifier"


def test_an_unknown_territory_stops_with_the_key_and_the_choices(
    run_cli, config, tmp_path
):
    """A typo in [practice] territory is a configuration error naming the territories."""
    set_territory(tmp_path, "la_reunion")
    result = run_cli("--config", "inst/fmt.toml", "report")
    assert result.returncode == 2
    assert "practice.territory" in result.stderr
    assert "reunion" in result.stderr


def test_rules_lists_sources_campaigns_and_decisions_in_french(run_cli, config):
    """`fmt-plugin rules`: each indicator's source, the campaigns, decisions and data to confirm."""
    result = run_cli("--config", "inst/fmt.toml", "rules", "--as-of", "2026-11-15")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Jeu de règles fmt-2026" in out
    assert "dep_colorectal — Dépistage cancer colorectal" in out
    assert "décision UNCAM du 22 octobre 2019" in out
    assert "2026-2027 : du 13/10/2026 au 28/02/2027, dates non confirmées" in out
    assert "[décision] Population du dépistage du diabète (dep_diabete)" in out
    assert "[à confirmer] Actes d'hystérectomie totale (dep_col_uterus)" in out


def test_rules_shows_the_territory_of_the_practice(run_cli, config, tmp_path):
    """The campaigns listed are the practice's territory's."""
    set_territory(tmp_path, "mayotte")
    result = run_cli("--config", "inst/fmt.toml", "rules")
    assert result.returncode == 0, result.stderr
    assert "territoire : Mayotte" in result.stdout


def test_patient_sheet_shows_the_campaign_and_whether_its_dates_are_confirmed(
    run_cli, config
):
    """The GP sees the campaign a flu status is about, and that 2026's dates are assumed."""
    result = run_cli(
        "--config", "inst/fmt.toml", "patient", "Q06", "--as-of", "2026-11-15"
    )
    assert result.returncode == 0, result.stderr
    assert (
        "Campagne 2026-2027 (Métropole) : du 13/10/2026 au 28/02/2027, "
        "dates non confirmées"
    ) in result.stdout
