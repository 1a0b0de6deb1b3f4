"""Rule variants (issue 14): the HbA1c indicator's ROSP reading, chosen by configuration.

The pack keeps the FMT's reading (an HbA1c in the last 6 months) as `suivi_hba1c`'s rule and
offers `rosp` (at least 2 dosages in the calendar year) as data; `[rules] variants` selects it.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from conftest import PUBLIC_SCENARIO, RunCli

from fmt_plugin.config import load_config
from fmt_plugin.errors import ConfigError
from fmt_plugin.evaluation import select_rule_pack
from fmt_plugin.hooks.host import build_plugin_manager
from fmt_plugin.model import Patient
from fmt_plugin.rules import Evidence, EvidenceSource, IndicatorStatus, evaluate
from fmt_plugin.rules.pack import (
    CalendarYearRule,
    PackError,
    RollingRule,
    default_pack_resource,
    load_default_pack,
    load_pack,
)

PACK = load_default_pack()
ROSP = PACK.with_variants({"suivi_hba1c": "rosp"})
SHIPPED = default_pack_resource().read_text(encoding="utf-8")
VARIANT = '[[indicators.variants]]\nname = "rosp"'
DIABETIC = Patient(
    "D1", "test", birth_date=date(1960, 5, 1), sex="F", ald=frozenset({8})
)


def hba1c(on: date, code: str = "4548-4", system: str = "LOINC") -> Evidence:
    return Evidence(on, system, code, EvidenceSource.HL7, result_status="F")


def rosp_status(as_of: date, *dosages: Evidence) -> IndicatorStatus:
    return evaluate(ROSP, DIABETIC, dosages, [], as_of).statuses["suivi_hba1c"]


def summary(status: IndicatorStatus) -> tuple[str, date | None, date | None]:
    return (status.status.value, status.due, status.period_start)


# --- the pack -------------------------------------------------------------------------------


def test_shipped_pack_offers_the_rosp_variant_beside_the_default():
    """suivi_hba1c keeps the 6-month rolling rule and offers « rosp », 2 in the year."""
    indicator = PACK.indicator("suivi_hba1c")
    assert isinstance(indicator.rule, RollingRule)
    assert indicator.variant is None
    assert indicator.variant_names == ("default", "rosp")
    assert indicator.variants[0].rule == CalendarYearRule(("hba1c",), 2)


def test_selecting_a_variant_changes_that_indicator_only():
    """With « rosp » the indicator's rule and source change; the others are the same."""
    indicator = ROSP.indicator("suivi_hba1c")
    assert (indicator.rule, indicator.variant) == (
        CalendarYearRule(("hba1c",), 2),
        "rosp",
    )
    assert "ROSP" in indicator.source
    others = [i for i in ROSP.indicators if i.id != "suivi_hba1c"]
    assert others == [i for i in PACK.indicators if i.id != "suivi_hba1c"]


def test_selecting_default_keeps_the_pack_rule():
    """« default » names the indicator's own rule."""
    assert PACK.with_variants({"suivi_hba1c": "default"}) == PACK


def write_pack(tmp_path: Path, old: str, new: str) -> Path:
    assert SHIPPED.count(old) == 1
    path = tmp_path / "cabinet.toml"
    path.write_text(SHIPPED.replace(old, new), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("new", "key"),
    [
        ('[[indicators.variants]]\nname = "default"', "name"),
        ('[[indicators.variants]]\nname = "ROSP!"', "name"),
        (VARIANT + "\nextra = 1", "extra"),
    ],
    ids=["reserved_name", "bad_name", "unknown_key"],
)
def test_malformed_variant_is_refused_naming_its_key(tmp_path, new, key):
    """A variant named « default », badly named or with a stray key stops the pack."""
    path = write_pack(tmp_path, VARIANT, new)
    with pytest.raises(PackError) as raised:
        load_pack(path)
    assert raised.value.key == f"indicators.suivi_hba1c.variants[0].{key}"
    assert raised.value.indicator == "suivi_hba1c"


def test_variant_with_an_unknown_rule_kind_is_refused(tmp_path):
    """A variant's rule is checked like an indicator's."""
    path = write_pack(tmp_path, 'rule = "calendar_year"', 'rule = "yearly"')
    with pytest.raises(PackError) as raised:
        load_pack(path)
    assert raised.value.key == "indicators.suivi_hba1c.variants[0].rule"
    assert "'calendar_year'" in str(raised.value)


def test_calendar_year_rule_needs_a_count(tmp_path):
    """`count` is required and at least 1."""
    path = write_pack(tmp_path, "count = 2", "count = 0")
    with pytest.raises(PackError) as raised:
        load_pack(path)
    assert raised.value.key == "indicators.suivi_hba1c.variants[0].count"


def test_duplicate_variant_name_is_refused(tmp_path):
    """Two variants of one indicator cannot share a name."""
    start = SHIPPED.index(VARIANT)
    end = SHIPPED.index("count = 2", start) + len("count = 2")
    block = SHIPPED[start:end]
    path = write_pack(tmp_path, block, block + "\n\n" + block)
    with pytest.raises(PackError) as raised:
        load_pack(path)
    assert raised.value.key == "indicators.suivi_hba1c.variants[1].name"


# --- the ROSP variant in the engine ---------------------------------------------------------


def test_rosp_no_dosage_in_the_year_is_a_verifier_since_1_january():
    """None this year: à vérifier, due and period from 1 January (a stable cycle)."""
    status = rosp_status(date(2026, 3, 15))
    assert summary(status) == ("a_verifier", date(2026, 1, 1), date(2026, 1, 1))
    assert status.overdue_days == 73
    assert status.reason == "Année 2026 : 0 sur 2"


def test_rosp_one_dosage_in_the_year_is_not_enough():
    """One of two: still à vérifier, in the same period, the dosage shown."""
    status = rosp_status(date(2026, 6, 15), hba1c(date(2026, 2, 10)))
    assert summary(status) == ("a_verifier", date(2026, 1, 1), date(2026, 1, 1))
    assert [e.date for e in status.evidence] == [date(2026, 2, 10)]
    assert status.reason == "Année 2026 : 1 sur 2"


def test_rosp_two_dosages_in_the_year_are_done_until_1_january_next():
    """Two on different days: fait, due when the count starts again, 1 January next year."""
    status = rosp_status(
        date(2026, 9, 1), hba1c(date(2026, 2, 10)), hba1c(date(2026, 8, 20))
    )
    assert summary(status) == ("fait", date(2027, 1, 1), date(2027, 1, 1))
    assert [e.date for e in status.evidence] == [date(2026, 8, 20), date(2026, 2, 10)]


def test_rosp_dosages_of_the_previous_year_do_not_count():
    """December's dosages count for their own year: on 1 January the count is 0."""
    december = (hba1c(date(2025, 6, 1)), hba1c(date(2025, 12, 31)))
    assert rosp_status(date(2025, 12, 31), *december).status.value == "fait"
    status = rosp_status(date(2026, 1, 1), *december)
    assert summary(status) == ("a_verifier", date(2026, 1, 1), date(2026, 1, 1))
    assert status.overdue_days == 0
    assert [e.date for e in status.evidence] == [date(2025, 12, 31)]  # the last one


def test_rosp_dosage_on_1_january_counts():
    """1 January is the first day of the year's count."""
    status = rosp_status(
        date(2026, 5, 1), hba1c(date(2026, 1, 1)), hba1c(date(2026, 4, 30))
    )
    assert status.status.value == "fait"


def test_rosp_one_result_coded_twice_counts_once():
    """LOINC and NABM codings of one result, the same day, are one dosage."""
    same_day = (hba1c(date(2026, 2, 10)), hba1c(date(2026, 2, 10), "1577", "NABM"))
    assert rosp_status(date(2026, 3, 1), *same_day).status.value == "a_verifier"


def test_rosp_dosage_after_as_of_does_not_count():
    """A dosage dated after D is not known at D."""
    status = rosp_status(
        date(2026, 3, 1), hba1c(date(2026, 2, 10)), hba1c(date(2026, 3, 2))
    )
    assert status.status.value == "a_verifier"


def test_default_rule_is_unchanged_by_the_variant_existing():
    """The default pack still reads the last 6 months: one dosage in October is fait."""
    status = evaluate(PACK, DIABETIC, [hba1c(date(2025, 10, 1))], [], date(2026, 3, 1))
    assert (status.statuses["suivi_hba1c"].status.value,) == ("fait",)


# --- selection by configuration -------------------------------------------------------------


def config_with(tmp_path: Path, rules: str) -> Path:
    (tmp_path / "fmt.key").write_text("{}")
    path = tmp_path / "fmt.toml"
    path.write_text(f"[store]\n[rules]\n{rules}\n", encoding="utf-8")
    return path


def test_config_reads_the_variants(tmp_path):
    """`[rules] variants` maps indicator ids to variant names."""
    config = load_config(config_with(tmp_path, 'variants = { suivi_hba1c = "rosp" }'))
    assert config.rules.variants == {"suivi_hba1c": "rosp"}
    assert load_config(config_with(tmp_path, "")).rules.variants == {}


def test_config_variant_must_be_a_string(tmp_path):
    """A variant name that is not a string names its key."""
    with pytest.raises(ConfigError) as raised:
        load_config(config_with(tmp_path, "variants = { suivi_hba1c = 2 }"))
    assert raised.value.key == "rules.variants.suivi_hba1c"


def test_select_rule_pack_applies_the_configured_variant(tmp_path):
    """The selected pack evaluates suivi_hba1c with the ROSP rule."""
    config = load_config(config_with(tmp_path, 'variants = { suivi_hba1c = "rosp" }'))
    pack = select_rule_pack(config, build_plugin_manager(config))
    assert pack.indicator("suivi_hba1c").variant == "rosp"


def test_unknown_variant_is_refused_naming_file_key_and_variants(tmp_path):
    """« rosp2 » is refused with the file, `rules.variants.suivi_hba1c` and the choices."""
    path = config_with(tmp_path, 'variants = { suivi_hba1c = "rosp2" }')
    config = load_config(path)
    with pytest.raises(ConfigError) as raised:
        select_rule_pack(config, build_plugin_manager(config))
    error = raised.value
    assert (error.path, error.key) == (path, "rules.variants.suivi_hba1c")
    assert "rosp2" in str(error)
    assert "default, rosp" in str(error)


def test_variant_of_an_unknown_indicator_is_refused(tmp_path):
    """An indicator id the pack does not know is refused, naming those with variants."""
    config = load_config(config_with(tmp_path, 'variants = { hba1c = "rosp" }'))
    with pytest.raises(ConfigError) as raised:
        select_rule_pack(config, build_plugin_manager(config))
    assert raised.value.key == "rules.variants.hba1c"
    assert "suivi_hba1c" in str(raised.value)


# --- through a real installation ------------------------------------------------------------


def q06_hba1c(run_cli: RunCli, folder: Path, *, rosp: bool) -> dict:
    """Q06 (diabetic, one HbA1c on 16/09/2025) in `report --format json` at 15/03/2026."""
    result = run_cli("init", "inst", "--roster", PUBLIC_SCENARIO / "roster.csv")
    assert result.returncode == 0, result.stderr
    config = folder / "inst" / "fmt.toml"
    if rosp:
        text = config.read_text(encoding="utf-8")
        commented = '# variants = { suivi_hba1c = "rosp" }'
        assert commented in text  # the annotated template shows the setting
        config.write_text(text.replace(commented, commented[2:]), encoding="utf-8")
    message = PUBLIC_SCENARIO / "messages" / "q06_hba1c.hl7"
    imported = run_cli("--config", "inst/fmt.toml", "import", message)
    assert imported.returncode == 0, imported.stderr
    report = run_cli(
        "--config",
        "inst/fmt.toml",
        "report",
        "--as-of",
        "2026-03-15",
        "--format",
        "json",
    )
    assert report.returncode == 0, report.stderr
    patients = json.loads(report.stdout)["patients"]
    q06 = next(p for p in patients if p["patient_id"] == "Q06")
    status: dict = q06["indicators"]["suivi_hba1c"]
    return status


def test_report_json_follows_the_configured_variant(run_cli, tmp_path):
    """Same data: fait by the default rule, à vérifier since 1 January by « rosp »."""
    default = q06_hba1c(run_cli, tmp_path, rosp=False)
    assert (default["status"], default["due"]) == ("fait", "2026-03-16")


def test_report_json_with_rosp_counts_the_calendar_year(run_cli, tmp_path):
    """With `variants = { suivi_hba1c = "rosp" }`, the 2025 dosage does not count in 2026."""
    rosp = q06_hba1c(run_cli, tmp_path, rosp=True)
    assert (rosp["status"], rosp["due"], rosp["reason"]) == (
        "a_verifier",
        "2026-01-01",
        "Année 2026 : 0 sur 2",
    )
