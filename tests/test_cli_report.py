"""`report`, `patient`, `override`: the practice's commands, run as a user runs them."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from conftest import RunCli

from fmt_plugin.rules.pack import default_pack_resource

AS_OF = "2026-03-15"


@pytest.fixture
def config(scenario_config: Path) -> Path:
    """A fresh installation on the public scenario's CSV files (conftest's `init`)."""
    return scenario_config


def report_json(run_cli: RunCli, config: str, *extra: str) -> dict:
    result = run_cli(
        "--config", config, "report", "--as-of", AS_OF, "--format", "json", *extra
    )
    assert result.returncode == 0, result.stderr
    data: dict = json.loads(result.stdout)
    return data


def indicators_of(report: dict, patient_id: str) -> dict:
    return next(
        p["indicators"] for p in report["patients"] if p["patient_id"] == patient_id
    )


# --- report -----------------------------------------------------------------------------------


def test_report_json_has_the_documented_shape(run_cli, config):
    """as_of, rule_pack, patients[].indicators{status, due, evidence[]}, rates{}."""
    report = report_json(run_cli, config)
    assert report["as_of"] == AS_OF
    assert report["rule_pack"] == "fmt-2026"
    sein = indicators_of(report, "Q07")["dep_sein"]
    assert sein["status"] == "fait"
    assert sein["due"] == "2027-02-01"
    assert sein["evidence"] == [
        {
            "date": "2025-02-01",
            "system": "CCAM",
            "code": "QEQK004",
            "source": "ehr",
            "label": "Mammographie",
        }
    ]
    assert report["rates"]["dep_sein"] == {
        "fait": 1,
        "a_verifier": 1,
        "a_venir": 0,
        "exclu": 0,
        "hors_fmt": 0,
        "rattrapage": 0,
        "taux": 0.5,
    }


def test_report_json_names_no_patient(run_cli, config):
    """JSON goes to integrations: internal ids only, no names or INS."""
    result = run_cli("--config", config, "report", "--as-of", AS_OF, "--format", "json")
    assert "ROLLAND" not in result.stdout
    assert "271020905620548" not in result.stdout


def test_report_lists_only_indicators_of_the_patients_population(run_cli, config):
    """A 36-year-old man (Q03) is in no population: listed with no indicator."""
    report = report_json(run_cli, config)
    assert indicators_of(report, "Q03") == {}


def test_report_indicator_option_keeps_one_indicator(run_cli, config):
    """--indicator lists only the patients of that indicator, and only its rate."""
    report = report_json(run_cli, config, "--indicator", "dep_sein")
    assert sorted(p["patient_id"] for p in report["patients"]) == ["Q05", "Q07"]
    assert list(report["rates"]) == ["dep_sein"]


def test_report_rate_of_an_indicator_without_denominator_is_null(run_cli, config):
    """ROR has one child, à venir: no one counts, so the taux is null, not 0."""
    report = report_json(run_cli, config, "--indicator", "vacc_ror")
    assert report["rates"]["vacc_ror"]["a_venir"] == 1
    assert report["rates"]["vacc_ror"]["taux"] is None


def test_report_potentiel_fmt_counts_five_euros_per_indicator(run_cli, config):
    """Potentiel FMT = 5 € × fait, missed = 5 € × à vérifier but not in rattrapage."""
    report = report_json(run_cli, config)
    potential = report["potentiel_fmt"]
    fait = sum(r["fait"] for r in report["rates"].values())
    a_verifier = sum(
        r["a_verifier"] - r["rattrapage"] for r in report["rates"].values()
    )
    assert potential["acquis_eur"] == 5 * fait
    assert potential["manque_eur"] == 5 * a_verifier


def test_report_unknown_indicator_is_a_usage_error(run_cli, config):
    """An unknown --indicator stops with exit 2 and lists the known ones."""
    result = run_cli("--config", config, "report", "--indicator", "dep_prostate")
    assert result.returncode == 2
    assert "dep_prostate" in result.stderr
    assert "dep_colorectal" in result.stderr


def test_report_csv_has_one_row_per_patient_and_indicator(run_cli, config):
    """CSV: a header, then patient × indicator rows with status and due date."""
    result = run_cli("--config", config, "report", "--as-of", AS_OF, "--format", "csv")
    assert result.returncode == 0, result.stderr
    text = result.stdout.removeprefix("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    q07_sein = next(
        r
        for r in rows
        if r["Identifiant patient"] == "Q07" and r["Code indicateur"] == "dep_sein"
    )
    assert q07_sein["Statut"] == "Fait"
    assert q07_sein["Échéance"] == "01/02/2027"
    assert q07_sein["Dernier acte"] == "01/02/2025"


def test_report_table_shows_name_age_nir_and_french_statuses(run_cli, config):
    """The default format is the amelipro-like table, in French."""
    result = run_cli(
        "--config", config, "report", "--as-of", AS_OF, "--indicator", "dep_sein"
    )
    assert result.returncode == 0, result.stderr
    assert "Nom" in result.stdout
    assert "NIR" in result.stdout
    assert "CHEVALIER" in result.stdout
    assert "2 63 03 09 056 207 66" in result.stdout
    assert "À vérifier" in result.stdout
    assert "1/2" in result.stdout  # taux given as numerator/denominator


def test_report_table_sorts_by_the_requested_key(run_cli, config):
    """--sort=age puts the youngest first; --sort=-age the oldest first."""

    def names(sort: str) -> list[str]:
        result = run_cli(
            "--config", config, "report", "--as-of", AS_OF, f"--sort={sort}"
        )
        assert result.returncode == 0, result.stderr
        body = result.stdout.split("\n\n")[1].splitlines()[2:]
        # A patient's first line holds id and name; the next ones start blank.
        return [line.split()[1] for line in body if not line.startswith(" ")]

    assert names("age")[0] == "AUGUSTE"  # 3 months old
    assert names("-age")[0] == "GARNIER"  # 77 years old


def test_report_unknown_sort_key_is_a_usage_error(run_cli, config):
    """--sort with an unknown key stops with exit 2 naming the accepted keys."""
    result = run_cli("--config", config, "report", "--sort", "taille")
    assert result.returncode == 2
    assert "nom, prenom" in result.stderr


# --- patient ----------------------------------------------------------------------------------


def test_patient_view_gives_status_next_date_and_acts_in_french(run_cli, config):
    """The Suivi prévention shows the act, its date and the next month to plan."""
    result = run_cli("--config", config, "patient", "Q07", "--as-of", AS_OF)
    assert result.returncode == 0, result.stderr
    assert "Suivi prévention" in result.stdout
    assert "Dépistage cancer du sein : Fait" in result.stdout
    assert "Prochain dépistage à prévoir : février 2027" in result.stdout
    assert "01/02/2025 — Mammographie (CCAM QEQK004), dossier médical" in result.stdout
    assert "Dépistage du diabète (glycémie à jeun) : À vérifier" in result.stdout


def test_patient_view_of_a_child_counts_in_months(run_cli, config):
    """Q01 is 3 months old: à venir indicators with the date they become due."""
    result = run_cli("--config", config, "patient", "Q01", "--as-of", AS_OF)
    assert "3 mois" in result.stdout
    assert "Vaccination ROR : À venir" in result.stdout
    assert "À faire à partir du 01/12/2026" in result.stdout


def test_patient_view_of_an_unknown_patient_is_a_usage_error(run_cli, config):
    """An id the store does not know stops with exit 2, saying no patient matches."""
    result = run_cli("--config", config, "patient", "Q99")
    assert result.returncode == 2
    assert "aucun patient actif avec cet identifiant" in result.stderr


def sheet(run_cli: RunCli, config: str, patient_id: str) -> str:
    result = run_cli("--config", config, "patient", patient_id, "--as-of", AS_OF)
    assert result.returncode == 0, result.stderr
    return result.stdout


def block(text: str, label: str) -> list[str]:
    """The lines of one indicator in the sheet: its title line and those under it."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"  {label} :"))
    end = next(
        (i for i in range(start + 1, len(lines)) if not lines[i].startswith("    ")),
        len(lines),
    )
    return lines[start:end]


def test_patient_view_gives_the_age_range_of_an_age_only_population(run_cli, config):
    """Colorectal screening concerns Q07 as someone de 50 à 74 ans (bounds included)."""
    lines = block(sheet(run_cli, config, "Q07"), "Dépistage cancer colorectal")
    assert lines[1] == "    Concerné(e) : de 50 à 74 ans"


def test_patient_view_gives_sex_and_ages_of_the_population(run_cli, config):
    """Breast screening concerns Q07 as a woman de 50 à 74 ans."""
    lines = block(sheet(run_cli, config, "Q07"), "Dépistage cancer du sein")
    assert lines[1] == "    Concerné(e) : femme, de 50 à 74 ans"


def test_patient_view_gives_a_maximum_in_months_as_the_pack_writes_it(run_cli, config):
    """ROR concerns the baby Q01 jusqu'à 35 mois, not "moins de 3 ans"."""
    lines = block(sheet(run_cli, config, "Q01"), "Vaccination ROR")
    assert lines[1] == "    Concerné(e) : jusqu'à 35 mois"


def test_patient_view_names_the_ald_that_brings_the_patient_in(run_cli, config):
    """HbA1c follow-up concerns Q06 because of ALD n° 8 (diabetes), not ALD 13."""
    lines = block(sheet(run_cli, config, "Q06"), "Suivi du diabète par dosage HbA1c")
    assert lines[1] == "    Concerné(e) : ALD n° 8"


def test_patient_view_names_the_condition_that_brings_the_patient_in(run_cli, config):
    """Kidney screening concerns Q07 because of her recorded hypertension, I10."""
    lines = block(
        sheet(run_cli, config, "Q07"), "Dépistage de la maladie rénale chronique"
    )
    assert lines[1] == "    Concerné(e) : diagnostic I10"


def test_patient_view_names_the_flag_without_the_age_floor(run_cli, config):
    """Flu vaccination concerns Q08 (45) for risk:grippe; "6 mois et plus" is not said."""
    lines = block(sheet(run_cli, config, "Q08"), "Vaccination grippe")
    assert lines[1] == "    Concerné(e) : marqueur « risk:grippe »"


def test_patient_view_gives_both_age_and_ald_when_both_apply(run_cli, config):
    """Q06 (77, ALD 8 and 13) is in the flu population by age and by ALD."""
    lines = block(sheet(run_cli, config, "Q06"), "Vaccination grippe")
    assert lines[1] == "    Concerné(e) : 65 ans et plus, ALD n° 8 et 13"


def test_patient_view_tells_how_late_in_words(run_cli, config):
    """A colorectal screening due since 2013 is "en retard depuis 13 ans", not days."""
    lines = block(sheet(run_cli, config, "Q07"), "Dépistage cancer colorectal")
    assert lines[2] == "    À faire depuis le 15/03/2013 (en retard depuis 13 ans)"
    assert "jours de retard" not in sheet(run_cli, config, "Q07")


def test_patient_view_of_an_act_due_today_has_no_zero_day_delay(run_cli, config):
    """Kidney screening due today reads "À faire dès aujourd'hui", never "0 jours"."""
    lines = block(
        sheet(run_cli, config, "Q07"), "Dépistage de la maladie rénale chronique"
    )
    assert lines[2] == "    À faire dès aujourd'hui"


# --- override ---------------------------------------------------------------------------------


def record(run_cli: RunCli, config: str, *args: str) -> None:
    result = run_cli(
        "--config",
        config,
        "override",
        *args,
        "--author",
        "Dr Martin",
        "--recorded-on",
        AS_OF,
    )
    assert result.returncode == 0, result.stderr
    assert "enregistrée" in result.stdout


def test_override_exclusion_makes_the_indicator_exclu(run_cli, config):
    """A medical exclusion recorded by the practice turns the status into exclu."""
    record(
        run_cli,
        config,
        "Q05",
        "dep_sein",
        "--kind",
        "exclusion",
        "--reason",
        "mastectomie",
    )
    assert (
        indicators_of(report_json(run_cli, config), "Q05")["dep_sein"]["status"]
        == "exclu"
    )


def test_override_refus_keeps_the_status_and_flags_the_refusal(run_cli, config):
    """A refusal does not change the status (amelipro would not) but stops recalls."""
    record(
        run_cli,
        config,
        "Q05",
        "dep_colorectal",
        "--kind",
        "refus",
        "--reason",
        "refuse",
    )
    status = indicators_of(report_json(run_cli, config), "Q05")["dep_colorectal"]
    assert status["status"] == "a_verifier"
    assert status["refused"] is True


def test_override_fait_ailleurs_counts_as_a_declaration(run_cli, config):
    """A mammography done elsewhere counts, shown with source declaration."""
    record(
        run_cli,
        config,
        "Q05",
        "dep_sein",
        "--kind",
        "fait_ailleurs",
        "--date",
        "2025-06-01",
        "--reason",
        "compte rendu apporté par la patiente",
    )
    status = indicators_of(report_json(run_cli, config), "Q05")["dep_sein"]
    assert status["status"] == "fait"
    assert status["due"] == "2027-06-01"
    assert status["evidence"][0]["source"] == "declaration"


def test_patient_view_of_a_fait_ailleurs_says_when_and_by_which_decision(
    run_cli, config
):
    """The act reads "Déclaré fait ailleurs le 01/06/2025", with the decision behind it."""
    record(
        run_cli, config, "Q05", "dep_sein", "--kind", "fait_ailleurs",
        "--date", "2025-06-01", "--reason", "compte rendu apporté par la patiente",
    )  # fmt: skip
    text = sheet(run_cli, config, "Q05")
    assert (
        "    • Déclaré fait ailleurs le 01/06/2025 "
        "(décision n° 1 du 15/03/2026 par Dr Martin)"
    ) in block(text, "Dépistage cancer du sein")
    assert "déclaré fait ailleurs par le cabinet" not in text


def test_override_report_postpones_recalls(run_cli, config):
    """A report stores the date recalls resume."""
    record(
        run_cli, config, "Q05", "dep_sein", "--kind", "report", "--date", "2026-06-01",
        "--reason", "hospitalisée",
    )  # fmt: skip
    status = indicators_of(report_json(run_cli, config), "Q05")["dep_sein"]
    assert status["recall_postponed_until"] == "2026-06-01"


def test_override_is_audited_and_listed(run_cli, config):
    """The decision is in the audit chain and listed by `overrides`, with its author."""
    record(
        run_cli,
        config,
        "Q05",
        "dep_sein",
        "--kind",
        "exclusion",
        "--reason",
        "mastectomie",
    )
    listing = run_cli("--config", config, "overrides", "Q05")
    assert "n° 1" in listing.stdout
    assert "Dr Martin" in listing.stdout
    audit = run_cli("--config", config, "audit", "verify")
    assert audit.returncode == 0, audit.stdout


def test_revoked_override_no_longer_applies(run_cli, config):
    """After override-revoke, the indicator is evaluated as before the decision."""
    record(
        run_cli, config, "Q05", "dep_sein", "--kind", "exclusion", "--reason", "erreur"
    )
    revoke = run_cli(
        "--config", config, "override-revoke", "1", "--author", "Dr Martin"
    )
    assert revoke.returncode == 0
    assert (
        indicators_of(report_json(run_cli, config), "Q05")["dep_sein"]["status"]
        == "a_verifier"
    )


def test_override_fait_ailleurs_without_date_is_refused(run_cli, config):
    """A declaration without the act's date is refused, naming --date."""
    result = run_cli(
        "--config", config, "override", "Q05", "dep_sein", "--kind", "fait_ailleurs",
        "--reason", "x", "--author", "Dr Martin",
    )  # fmt: skip
    assert result.returncode == 2
    assert "--date" in result.stderr


def test_override_of_an_unknown_indicator_is_refused(run_cli, config):
    """An indicator the pack does not have is refused with the list of known ones."""
    result = run_cli(
        "--config",
        config,
        "override",
        "Q05",
        "dep_prostate",
        "--kind",
        "refus",
        "--reason",
        "x",
        "--author",
        "Dr Martin",
    )
    assert result.returncode == 2
    assert "dep_sein" in result.stderr


def test_override_of_an_unknown_patient_is_refused(run_cli, config):
    """A patient the store does not know is refused; nothing is recorded."""
    result = run_cli(
        "--config",
        config,
        "override",
        "Q99",
        "dep_sein",
        "--kind",
        "refus",
        "--reason",
        "x",
        "--author",
        "Dr Martin",
    )
    assert result.returncode != 0
    assert "Q99" in result.stderr
    assert "Aucune décision" in run_cli("--config", config, "overrides").stdout


# --- practice rule packs -------------------------------------------------------------------------


def use_practice_pack(tmp_path: Path, config: str, old: str, new: str) -> None:
    """Name in [rules] files a copy of the shipped pack with its first `old` replaced."""
    shipped = default_pack_resource().read_text(encoding="utf-8")
    own = shipped.replace(old, new, 1)
    assert own != shipped
    (tmp_path / "inst" / "cabinet.toml").write_text(own, encoding="utf-8")
    conf = tmp_path / config
    conf.write_text(
        conf.read_text(encoding="utf-8").replace(
            "files = []", 'files = ["cabinet.toml"]'
        ),
        encoding="utf-8",
    )


def test_a_practice_pack_file_replaces_the_default_pack(run_cli, config, tmp_path):
    """[rules] files: a pack with id fmt-2026 and a 3-year breast screening period wins."""
    use_practice_pack(
        tmp_path,
        config,
        'evidence = ["mammographie"]\nperiod_months = 24',
        'evidence = ["mammographie"]\nperiod_months = 36',
    )
    sein = indicators_of(report_json(run_cli, config), "Q07")["dep_sein"]
    assert sein["due"] == "2028-02-01"


def test_a_malformed_practice_pack_stops_with_file_indicator_and_key(
    run_cli, config, tmp_path
):
    """A typo in a pack file is refused at start-up, exit 2, naming where it is."""
    use_practice_pack(tmp_path, config, "period_months = 24", "perod_months = 24")
    result = run_cli("--config", config, "report", "--as-of", AS_OF)
    assert result.returncode == 2
    assert "cabinet.toml" in result.stderr
    assert "indicators.dep_colorectal.perod_months" in result.stderr
    assert "Traceback" not in result.stderr
