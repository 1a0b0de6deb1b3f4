"""`override`, `overrides`, `override-revoke` run as the practice runs them, read back from the store."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CliResult, raw

from fmt_plugin.installation import open_installation
from fmt_plugin.rules import Override, OverrideKind
from fmt_plugin.timezone import today_in_paris
from fmt_plugin.views.french import day

DECIDED = "2026-03-15"


@pytest.fixture(autouse=True)
def no_fmt_user(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whoever runs the suite, FMT_USER is not set unless a test sets it."""
    monkeypatch.delenv("FMT_USER", raising=False)


@pytest.fixture
def installation(installation: Path, run_cli) -> Path:
    """The public scenario's installation made by `init`, its roster synced by `sync`."""
    result = run_cli("--config", installation, "sync")
    assert result.returncode == 0, result.stderr
    return installation


def override(run_cli, config: Path, *args: str, **env: str) -> CliResult:
    return run_cli("--config", config, "override", *args, env=env or None)


def decide(run_cli, config: Path, *args: str) -> CliResult:
    """An override with an author and a fixed decision date, expected to succeed."""
    result = override(
        run_cli, config, *args, "--author", "Dr Martin", "--recorded-on", DECIDED
    )
    assert result.returncode == 0, result.stderr
    return result


def stored(config: Path, *, include_revoked: bool = True) -> list[Override]:
    with open_installation(config) as installation:
        return installation.store.overrides(include_revoked=include_revoked)


def audit_actions(config: Path) -> list[tuple[str, str | None, str | None]]:
    with raw(config.parent / "fmt.sqlite3") as conn:
        return conn.execute(
            "SELECT action, target, detail FROM audit_log ORDER BY seq"
        ).fetchall()


# --- who the decision concerns ------------------------------------------------------------


def test_an_indicator_of_the_other_sex_is_refused_and_nothing_recorded(
    run_cli, installation
):
    """Breast screening for a man is refused, naming the indicator and the rule; nothing kept."""
    result = override(
        run_cli, installation, "Q03", "dep_sein", "--kind", "refus", "--reason",
        "ne souhaite pas", "--author", "Dr Martin", "--recorded-on", DECIDED,
    )  # fmt: skip
    assert result.returncode == 2
    assert "« Dépistage cancer du sein » (dep_sein)" in result.stderr
    assert "ne concerne pas le patient Q03 au 15/03/2026" in result.stderr
    assert "ne concerne que les femmes" in result.stderr
    assert "Aucune décision enregistrée" in result.stderr
    assert stored(installation) == []
    assert "override.add" not in [
        action for action, _, _ in audit_actions(installation)
    ]


def test_an_indicator_outside_the_age_range_gives_the_range(run_cli, installation):
    """A baby's colorectal screening is refused with the population's ages."""
    result = override(
        run_cli, installation, "Q01", "dep_colorectal", "--kind", "refus", "--reason",
        "x", "--author", "Dr Martin", "--recorded-on", DECIDED,
    )  # fmt: skip
    assert result.returncode == 2
    assert "de 50 ans à moins de 75 ans" in result.stderr
    assert stored(installation) == []


def test_an_indicator_whose_conditions_are_not_met_is_refused(run_cli, installation):
    """HbA1c follow-up for a patient who is not diabetic is refused, saying why."""
    result = override(
        run_cli, installation, "Q03", "suivi_hba1c", "--kind", "exclusion", "--reason",
        "x", "--author", "Dr Martin", "--recorded-on", DECIDED,
    )  # fmt: skip
    assert result.returncode == 2
    assert "aucune des conditions d'entrée" in result.stderr
    assert stored(installation) == []


def test_eligibility_is_judged_on_the_decision_date(run_cli, installation):
    """Q05 turned 50 on 14/02/2021: refused the day before, accepted the day after."""
    before = override(
        run_cli, installation, "Q05", "dep_sein", "--kind", "exclusion", "--reason",
        "mastectomie", "--author", "Dr Martin", "--recorded-on", "2021-02-13",
    )  # fmt: skip
    assert before.returncode == 2
    assert "au 13/02/2021" in before.stderr
    after = override(
        run_cli, installation, "Q05", "dep_sein", "--kind", "exclusion", "--reason",
        "mastectomie", "--author", "Dr Martin", "--recorded-on", "2021-02-15",
    )  # fmt: skip
    assert after.returncode == 0, after.stderr
    assert [o.recorded_on.isoformat() for o in stored(installation)] == ["2021-02-15"]


def test_an_unknown_patient_is_refused_by_id(run_cli, installation):
    """A patient id the store does not know is refused, named, and nothing is kept."""
    result = override(
        run_cli, installation, "Q99", "dep_sein", "--kind", "refus", "--reason", "x",
        "--author", "Dr Martin", "--recorded-on", DECIDED,
    )  # fmt: skip
    assert result.returncode == 2
    assert "patient « Q99 » inconnu" in result.stderr
    assert stored(installation) == []


# --- reason and author ----------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "   "])
def test_an_empty_or_blank_reason_is_refused(run_cli, installation, reason):
    """`--reason ""` or blanks only is a usage error; nothing is recorded."""
    result = override(
        run_cli, installation, "Q05", "dep_sein", "--kind", "refus", "--reason",
        reason, "--author", "Dr Martin", "--recorded-on", DECIDED,
    )  # fmt: skip
    assert result.returncode == 2
    assert "motif vide" in result.stderr
    assert stored(installation) == []


def test_without_author_or_fmt_user_the_decision_is_refused(run_cli, installation):
    """Neither --author nor FMT_USER: refused, saying both ways; the OS account is not used."""
    result = override(
        run_cli, installation, "Q05", "dep_sein", "--kind", "refus", "--reason", "x",
        "--recorded-on", DECIDED,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--author" in result.stderr
    assert "FMT_USER" in result.stderr
    assert stored(installation) == []


def test_fmt_user_names_the_author(run_cli, installation):
    """FMT_USER is the author when --author is not given."""
    result = override(
        run_cli, installation, "Q05", "dep_sein", "--kind", "refus", "--reason", "x",
        "--recorded-on", DECIDED, FMT_USER="Dr Durand",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert [o.author for o in stored(installation)] == ["Dr Durand"]


def test_author_option_wins_over_fmt_user(run_cli, installation):
    """--author is taken before FMT_USER."""
    result = override(
        run_cli, installation, "Q05", "dep_sein", "--kind", "refus", "--reason", "x",
        "--recorded-on", DECIDED, "--author", "Dr Martin", FMT_USER="Dr Durand",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert [o.author for o in stored(installation)] == ["Dr Martin"]


def test_a_blank_fmt_user_is_refused(run_cli, installation):
    """FMT_USER set to blanks names nobody: refused."""
    result = override(
        run_cli, installation, "Q05", "dep_sein", "--kind", "refus", "--reason", "x",
        "--recorded-on", DECIDED, FMT_USER="  ",
    )  # fmt: skip
    assert result.returncode == 2
    assert "auteur vide (FMT_USER)" in result.stderr


# --- kinds and wording ----------------------------------------------------------------------


def test_kind_fait_ailleurs_is_accepted_with_a_space(run_cli, installation):
    """`--kind "fait ailleurs"` records a fait_ailleurs, confirmed in French words."""
    result = decide(
        run_cli, installation, "Q05", "dep_sein", "--kind", "fait ailleurs", "--date",
        "01/06/2025", "--reason", "compte rendu apporté",
    )  # fmt: skip
    (saved,) = stored(installation)
    assert saved.kind is OverrideKind.FAIT_AILLEURS
    assert (
        "Décision n° 1 enregistrée pour le patient Q05 — Dépistage cancer du sein : "
        "déclaré fait ailleurs le 01/06/2025 (décision du 15/03/2026 par Dr Martin)."
    ) in result.stdout


def test_an_unknown_kind_lists_the_french_choices(run_cli, installation):
    """A kind that does not exist is a usage error listing the four kinds."""
    result = override(
        run_cli, installation, "Q05", "dep_sein", "--kind", "oubli", "--reason", "x",
        "--author", "Dr Martin",
    )  # fmt: skip
    assert result.returncode == 2
    assert "exclusion, refus, report, fait_ailleurs" in result.stderr


def test_overrides_lists_labels_french_words_and_dates(run_cli, installation):
    """The listing reads as French: indicator label, what was decided, JJ/MM/AAAA, reason."""
    decide(
        run_cli, installation, "Q05", "dep_colorectal", "--kind", "report", "--date",
        "2026-09-01", "--expires", "2026-12-31", "--reason", "après l'été",
    )  # fmt: skip
    listing = run_cli("--config", installation, "overrides")
    assert listing.returncode == 0
    assert listing.stdout.splitlines() == [
        "1 décision en vigueur :",
        "n° 1  patient Q05  Dépistage cancer colorectal (dep_colorectal)",
        (
            "    Rappels reportés jusqu'au 01/09/2026 — décision du 15/03/2026 par "
            "Dr Martin, valable jusqu'au 31/12/2026"
        ),
        "    Motif : après l'été",
    ]


# --- revocation -----------------------------------------------------------------------------


def test_overrides_all_marks_the_revoked_ones_with_date_and_author(
    run_cli, installation
):
    """A revoked decision leaves the listing, and `--all` shows it, revoked when and by whom."""
    decide(
        run_cli, installation, "Q05", "dep_sein", "--kind", "exclusion", "--reason", "x"
    )
    revoke = run_cli(
        "--config", installation, "override-revoke", "1", env={"FMT_USER": "Dr Durand"}
    )
    assert revoke.returncode == 0, revoke.stderr
    assert "Décision n° 1 révoquée" in revoke.stdout
    assert (
        "Aucune décision en vigueur"
        in run_cli("--config", installation, "overrides").stdout
    )
    listing = run_cli("--config", installation, "overrides", "--all").stdout
    assert "1 décision (dont 1 révoquée) :" in listing
    assert f"Révoquée le {day(today_in_paris())} par Dr Durand" in listing


def test_revocation_needs_an_author_too(run_cli, installation):
    """override-revoke without --author or FMT_USER is refused; the decision stays."""
    decide(
        run_cli, installation, "Q05", "dep_sein", "--kind", "exclusion", "--reason", "x"
    )
    result = run_cli("--config", installation, "override-revoke", "1")
    assert result.returncode == 2
    assert "FMT_USER" in result.stderr
    assert len(stored(installation, include_revoked=False)) == 1


def test_revoking_twice_says_when_and_by_whom(run_cli, installation):
    """A second revocation is refused with the first one's date and author."""
    decide(
        run_cli, installation, "Q05", "dep_sein", "--kind", "exclusion", "--reason", "x"
    )
    args = ("--config", installation, "override-revoke", "1", "--author", "Dr Durand")
    assert run_cli(*args).returncode == 0
    again = run_cli(*args)
    assert again.returncode == 2
    assert f"déjà révoquée le {day(today_in_paris())} par Dr Durand" in again.stderr


def test_decisions_and_revocations_are_audited_by_id_only(run_cli, installation):
    """The audit chain holds override.add and override.revoke with ids, not the reason."""
    decide(
        run_cli, installation, "Q05", "dep_sein", "--kind", "exclusion", "--reason",
        "mastectomie",
    )  # fmt: skip
    run_cli("--config", installation, "override-revoke", "1", "--author", "Dr Durand")
    entries = audit_actions(installation)
    assert ("override.add", "Q05", "override_id=1") in entries
    assert ("override.revoke", "Q05", "override_id=1") in entries
    assert "mastectomie" not in repr(entries)
    assert run_cli("--config", installation, "audit", "verify").returncode == 0
