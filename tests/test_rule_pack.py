"""Rule packs: the shipped fmt-2026 data matches the spec, and malformed packs are refused."""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path

import pytest

from fmt_plugin.errors import ConfigError, ExitStatus
from fmt_plugin.model import Patient
from fmt_plugin.rules import Evidence, EvidenceSource, evaluate
from fmt_plugin.rules.pack import (
    PackError,
    RulePack,
    default_pack_resource,
    load_default_pack,
    load_pack,
    parse_pack,
)

SHIPPED = default_pack_resource().read_text(encoding="utf-8")

#: shared/domain/indicators.md, section 3, in the order of its tables.
SPEC_INDICATOR_IDS = (
    "vacc_grippe",
    "vacc_covid",
    "vacc_pneumo",
    "vacc_ror",
    "vacc_meningo_acwy",
    "vacc_hpv",
    "dep_colorectal",
    "dep_sein",
    "dep_col_uterus",
    "dep_diabete",
    "dep_mrc",
    "suivi_hba1c",
    "exam_9e_mois",
    "exam_24e_mois",
    "bucco_dentaire",
)

#: shared/domain/indicators.md, section 5, keyed by the pack's name for each list.
SPEC_CODE_LISTS: dict[str, dict[str, tuple[str, ...]]] = {
    "glycemie_a_jeun": {
        "LOINC": ("1558-6", "14771-0", "14749-6", "40193-5"),
        "NABM": ("0552",),
    },
    "hba1c": {"LOINC": ("4548-4", "59261-8", "17856-6", "4549-2"), "NABM": ("1577",)},
    "creatininemie": {
        "LOINC": (
            "2160-0",
            "14682-9",
            "62238-1",
            "98979-8",
            "77147-7",
            "33914-3",
            "48642-3",
            "48643-1",
        ),
        "NABM": ("0592",),
    },
    "albuminurie": {
        "LOINC": ("14957-5", "1754-1", "14956-7", "30003-8"),
        "NABM": ("1133",),
    },
    "creatininurie": {"LOINC": ("2161-8", "14683-7", "20624-3"), "NABM": ("0627",)},
    "rapport_albuminurie_creatininurie": {
        "LOINC": (
            "9318-7",
            "14959-1",
            "14585-4",
            "32294-1",
            "13705-9",
            "30001-2",
            "44292-1",
        ),
        "NABM": ("2004",),
    },
    "test_immunologique_fecal": {
        "LOINC": ("29771-3", "57905-2", "58453-2", "27396-1", "56490-6", "56491-4"),
    },
    "cytologie_cervicale": {
        "LOINC": ("10524-7", "19762-4", "19764-0", "47527-7", "47528-5", "33717-0"),
        "CCAM": ("JKQX001", "JKQX261", "JKQX027", "JKQX347"),
    },
    "test_hpv_hr": {
        "LOINC": (
            "21440-3",
            "30167-1",
            "38372-9",
            "59420-0",
            "71431-1",
            "77379-6",
            "77399-4",
            "77400-0",
            "95539-3",
        ),
        "NABM": ("4127",),
    },
    "mammographie": {"CCAM": ("QEQK004", "QEQK001", "QEQK005")},
    # indicators.md §5: the colonoscopies of the UNCAM decision of 22 October 2019.
    "coloscopie": {
        "CCAM": (
            "HHQE002",
            "HHQE004",
            "HHQE005",
            "HJQE001",
            "HHQK484",
            "HHQH365",
            "HHFE001",
            "HHFE002",
            "HHFE004",
            "HHFE005",
            "HHFE006",
        )
    },
    # §3 leaves the list to data; the pack marks it unconfirmed.
    "hysterectomie_totale": {"CCAM": ("JKFA015", "JKFC005", "JKFD002")},
    "examen_enfant": {"NGAP": ("COE",)},
    "examen_9e_mois": {"EVENT": ("exam:9e_mois",)},
    "examen_24e_mois": {"EVENT": ("exam:24e_mois",)},
    "examen_bucco_dentaire": {
        "NGAP": ("BDA", "BDB", "BDD", "BDP", "BDC", "BR2", "BR4", "BRP"),
    },
    "vaccin_grippe": {
        "CVX": (
            *("88", "135", "140", "141", "144", "150", "153", "155", "158", "161"),
            *("166", "168", "171", "185", "186", "197", "200", "201", "202", "205"),
            *("231", "320", "333"),
        ),
        "ATC": ("J07BB",),
    },
    "vaccin_covid": {
        "CVX": (
            *("207", "208", "210", "211", "212", "213", "217", "218", "219", "221"),
            *("225", "226", "227", "228", "229", "230", "300", "301", "302", "308"),
            *("309", "310", "311", "312", "313", "334"),
            *(str(n) for n in range(500, 522)),
        ),
        "ATC": ("J07BN", "J07BX03"),
    },
    "vaccin_pneumo_pcv20_21": {"CVX": ("216", "327")},
    "vaccin_ror": {
        "CVX": ("03", "94", "04", "05"),
        "ATC": ("J07BD52", "J07BD54", "J07BD51"),
    },
    "vaccin_meningo_acwy": {
        "CVX": ("108", "114", "136", "147", "203"),
        "ATC": ("J07AH08",),
    },
    "vaccin_hpv": {"CVX": ("62", "118", "137", "165"), "ATC": ("J07BM",)},
}

#: shared/domain/indicators.md, section 3: the ALD numbers that put a patient at risk.
SPEC_RISK_ALD = {
    "vacc_grippe": {1, 2, *range(5, 11), *range(12, 17), *range(18, 23), 24, 25}
    | {27, 28, 30},
    "vacc_covid": {*range(1, 4), *range(5, 11), *range(12, 17), *range(18, 26)}
    | {27, 28, 30},
    "vacc_pneumo": {2, 3, *range(5, 10), 14, 19, 21, 22, 24, 25, 27, 28, 30},
}

COLORECTAL_PERIOD = 'evidence = ["test_immunologique_fecal"]\nperiod_months = 24'


@pytest.fixture(scope="module")
def pack() -> RulePack:
    return load_default_pack()


def write_variant(tmp_path: Path, old: str, new: str) -> Path:
    """The shipped pack with its single occurrence of `old` replaced, as a file."""
    assert SHIPPED.count(old) == 1, f"{old!r} must occur exactly once in the pack"
    path = tmp_path / "cabinet.toml"
    path.write_text(SHIPPED.replace(old, new), encoding="utf-8")
    return path


def refusal(path: Path) -> PackError:
    with pytest.raises(PackError) as info:
        load_pack(path)
    return info.value


def assert_located(
    error: PackError, path: Path, *, key: str, indicator: str | None
) -> None:
    """The error names the file and the dotted key, and the indicator when there is one."""
    message = str(error)
    assert error.path == path
    assert str(path) in message
    assert error.key == key
    assert f"« {key} »" in message
    assert error.indicator == indicator
    if indicator is not None:
        assert indicator in message


def diabetic(patient_id: str = "p1") -> Patient:
    return Patient(
        patient_id, "test", birth_date=date(1960, 5, 1), sex="F", ald=frozenset({8})
    )


# --- the shipped pack -----------------------------------------------------------------------


def test_shipped_pack_loads_as_fmt_2026(pack):
    """The pack shipped in the package loads, with the id, horizon and fee of the spec."""
    assert (pack.id, pack.recall_horizon_days, pack.fee_per_indicator_eur) == (
        "fmt-2026",
        30,
        5,
    )


def test_shipped_pack_has_the_15_indicators_of_the_spec_in_order(pack):
    """The indicator ids are exactly those of indicators.md, in its order."""
    assert pack.indicator_ids == SPEC_INDICATOR_IDS


@pytest.mark.parametrize("indicator_id", SPEC_INDICATOR_IDS)
def test_every_indicator_names_its_source(pack, indicator_id):
    """Each indicator says where its rule comes from."""
    assert pack.indicator(indicator_id).source.strip()


def test_unknown_indicator_id_is_a_key_error(pack):
    """Asking for an indicator the pack lacks raises KeyError."""
    with pytest.raises(KeyError):
        pack.indicator("vacc_fievre_jaune")


def test_shipped_pack_has_exactly_the_code_lists_of_the_spec(pack):
    """Every code list of section 5 is in the pack, and no other."""
    assert set(pack.code_lists) == set(SPEC_CODE_LISTS)


@pytest.mark.parametrize("list_name", sorted(SPEC_CODE_LISTS))
def test_every_code_of_the_spec_is_in_its_list(pack, list_name):
    """Each code section 5 gives for a list classifies into that list."""
    missing = [
        (system, code)
        for system, codes in SPEC_CODE_LISTS[list_name].items()
        for code in codes
        if list_name not in pack.classify(system, code)
    ]
    assert missing == []


@pytest.mark.parametrize("indicator_id", sorted(SPEC_RISK_ALD))
def test_risk_ald_lists_match_the_spec(pack, indicator_id):
    """The ALD numbers that bring a patient into a vaccination population are the spec's."""
    population = pack.indicator(indicator_id).population
    ald = set().union(*(group.criteria.ald for group in population.any_of))
    assert ald == SPEC_RISK_ALD[indicator_id]


def test_listed_campaigns_are_the_spec_dates(pack):
    """The 2025 and 2026 campaigns have the dates of indicators.md."""
    campaigns = pack.seasons.campaigns
    assert (campaigns[2025].start, campaigns[2025].end) == (
        date(2025, 10, 14),
        date(2026, 2, 28),
    )
    assert (campaigns[2026].start, campaigns[2026].end) == (
        date(2026, 10, 13),
        date(2027, 2, 28),
    )


def test_unlisted_season_gets_the_default_campaign(pack):
    """A season the pack does not list runs from 15 October to the end of February."""
    campaign = pack.seasons.campaign(2030)
    assert (campaign.start, campaign.end) == (date(2030, 10, 15), date(2031, 2, 28))


def test_season_window_ends_on_29_february_in_a_leap_year(pack):
    """Season 2027 holds evidence from 1 September 2027 to 29 February 2028."""
    assert pack.seasons.window(2027) == (date(2027, 9, 1), date(2028, 2, 29))


@pytest.mark.parametrize(
    ("on", "season"),
    [
        (date(2026, 8, 31), 2025),
        (date(2026, 9, 1), 2026),
        (date(2027, 3, 1), 2026),
    ],
)
def test_current_season_turns_on_1_september(pack, on, season):
    """From March to August the current season is the one that just ended."""
    assert pack.seasons.season_of(on) == season


# --- classification -------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["03", "3"])
def test_cvx_codes_compare_as_numbers(pack, code):
    """CVX `03` and `3` are the same measles-containing vaccine."""
    assert pack.classify("CVX", code) == {"vaccin_ror"}


def test_atc_level_matches_every_code_below_it(pack):
    """ATC J07BB02 is a flu vaccine because the list holds the level J07BB."""
    assert pack.classify("ATC", "J07BB02") == {"vaccin_grippe"}


@pytest.mark.parametrize("code", ["500", "505", "521"])
def test_cvx_range_covers_every_code_in_it(pack, code):
    """CVX codes 500 to 521 are all covid vaccines."""
    assert pack.classify("CVX", code) == {"vaccin_covid"}


def test_cvx_range_stops_at_its_upper_bound(pack):
    """CVX 522, just past the covid range, classifies to nothing."""
    assert pack.classify("CVX", "522") == frozenset()


def test_pcv13_15_atc_code_counts_for_nothing(pack):
    """ATC J07AL02 also covers PCV13/15, so it is not in the PCV20/21 list."""
    assert pack.classify("ATC", "J07AL02") == frozenset()


@pytest.mark.parametrize("code", ["1558", "1558-60", "11558-6"])
def test_loinc_codes_match_exactly(pack, code):
    """A LOINC code is matched whole: neither a prefix nor an extension of 1558-6 counts."""
    assert pack.classify("LOINC", code) == frozenset()


@pytest.mark.parametrize("code", ["552", "0552"])
def test_nabm_codes_compare_as_numbers(pack, code):
    """NABM `552` and `0552` are both the fasting glucose act."""
    assert pack.classify("NABM", code) == {"glycemie_a_jeun"}


def test_system_and_code_are_compared_without_case_or_spaces(pack):
    """`cvx` / ` 03 ` is read as CVX 03."""
    assert pack.classify("cvx", " 03 ") == {"vaccin_ror"}


def test_unknown_system_classifies_to_nothing(pack):
    """A code of a system the pack has no list for is unknown, even if it looks familiar."""
    assert pack.classify("SNOMED", "1558-6") == frozenset()
    assert not pack.knows("SNOMED", "1558-6")


def test_non_ascii_digit_code_is_unknown_not_a_crash(pack):
    """A CVX code made of a superscript digit is simply unknown."""
    assert pack.classify("CVX", "²") == frozenset()


# --- a practice's pack is data the engine reads ---------------------------------------------


def test_practice_pack_period_change_changes_the_evaluation(tmp_path, pack):
    """A colorectal period of 36 months makes a 30-month-old FIT count again."""
    practice = load_pack(
        write_variant(
            tmp_path, COLORECTAL_PERIOD, COLORECTAL_PERIOD.replace("24", "36")
        )
    )
    patient = Patient("p1", "test", birth_date=date(1960, 5, 1), sex="F")
    fit = Evidence(
        date(2023, 9, 15), "LOINC", "29771-3", EvidenceSource.HL7, result_status="F"
    )
    as_of = date(2026, 3, 15)

    default = evaluate(pack, patient, [fit], [], as_of).statuses["dep_colorectal"]
    changed = evaluate(practice, patient, [fit], [], as_of).statuses["dep_colorectal"]

    assert (default.status, default.due) == ("a_verifier", date(2025, 9, 15))
    assert (changed.status, changed.due) == ("fait", date(2026, 9, 15))


def test_pack_read_from_a_file_remembers_its_origin(tmp_path):
    """`origin` is the file the pack was read from."""
    path = tmp_path / "cabinet.toml"
    path.write_text(SHIPPED, encoding="utf-8")
    assert load_pack(path).origin == str(path)


def test_parse_pack_accepts_already_parsed_data():
    """`parse_pack` validates a mapping and names it by the given origin."""
    pack = parse_pack(tomllib.loads(SHIPPED), origin="memoire")
    assert (pack.id, pack.origin) == ("fmt-2026", "memoire")


# --- malformed packs ------------------------------------------------------------------------


def test_pack_error_is_a_configuration_error(tmp_path):
    """A malformed pack is a configuration problem: exit status 2, nothing done."""
    error = refusal(write_variant(tmp_path, "format = 1\n", "format = 2\n"))
    assert isinstance(error, ConfigError)
    assert error.exit_status is ExitStatus.USAGE


def test_misspelt_required_key_is_refused_naming_the_typo(tmp_path):
    """`perod_months` leaves `period_months` missing, and the message points at the typo."""
    path = write_variant(
        tmp_path, COLORECTAL_PERIOD, COLORECTAL_PERIOD.replace("period", "perod")
    )
    error = refusal(path)
    assert_located(
        error,
        path,
        key="indicators.dep_colorectal.period_months",
        indicator="dep_colorectal",
    )
    assert "« indicators.dep_colorectal.perod_months » est-il une faute" in str(error)


def test_unknown_key_in_an_indicator_suggests_the_closest_known_key(tmp_path):
    """An optional key misspelt (`min_interval_day`) is refused with "vouliez-vous dire"."""
    path = write_variant(tmp_path, "min_interval_days = 28", "min_interval_day = 28")
    error = refusal(path)
    assert_located(
        error, path, key="indicators.vacc_ror.min_interval_day", indicator="vacc_ror"
    )
    assert "vouliez-vous dire « indicators.vacc_ror.min_interval_days »" in str(error)


def test_value_of_the_wrong_type_is_refused(tmp_path):
    """`period_months = "24"` is a string where an integer is expected."""
    path = write_variant(
        tmp_path, COLORECTAL_PERIOD, COLORECTAL_PERIOD.replace("24", '"24"')
    )
    error = refusal(path)
    assert_located(
        error,
        path,
        key="indicators.dep_colorectal.period_months",
        indicator="dep_colorectal",
    )
    assert "un entier" in str(error)


def test_unknown_rule_kind_is_refused(tmp_path):
    """`rule` must be rolling, doses or seasonal."""
    path = write_variant(
        tmp_path,
        'rule = "seasonal"\nevidence = ["vaccin_grippe"]',
        'rule = "annual"\nevidence = ["vaccin_grippe"]',
    )
    error = refusal(path)
    assert_located(
        error, path, key="indicators.vacc_grippe.rule", indicator="vacc_grippe"
    )
    assert "'rolling' | 'doses' | 'seasonal'" in str(error)


def test_unknown_group_is_refused(tmp_path):
    """`group` must be vaccination, depistage or suivi."""
    path = write_variant(
        tmp_path,
        'short_label = "Grippe"\ngroup = "vaccination"',
        'short_label = "Grippe"\ngroup = "prevention"',
    )
    error = refusal(path)
    assert_located(
        error, path, key="indicators.vacc_grippe.group", indicator="vacc_grippe"
    )


def test_evidence_naming_an_undefined_code_list_is_refused(tmp_path):
    """An indicator may only read code lists defined under [codes]."""
    path = write_variant(
        tmp_path, COLORECTAL_PERIOD, COLORECTAL_PERIOD.replace("test_immuno", "immuno")
    )
    error = refusal(path)
    assert_located(
        error,
        path,
        key="indicators.dep_colorectal.evidence",
        indicator="dep_colorectal",
    )
    assert "« immunologique_fecal » non définie" in str(error)


def test_undefined_marker_is_refused(tmp_path):
    """An exclusion may only name markers defined under [markers]."""
    path = write_variant(
        tmp_path,
        'label = "Patient diabétique", markers = ["diabetique"]',
        'label = "Patient diabétique", markers = ["diabete"]',
    )
    error = refusal(path)
    assert_located(
        error,
        path,
        key="indicators.dep_diabete.exclusions[0].markers",
        indicator="dep_diabete",
    )
    assert "« diabete » non défini" in str(error)


def test_age_not_written_as_years_or_months_is_refused(tmp_path):
    """`65 ans` is refused: ages are written `65y` or `6m`."""
    path = write_variant(
        tmp_path,
        '{ min_age = "65y" },\n  { min_age = "6m", ald = [1, 2',
        '{ min_age = "65 ans" },\n  { min_age = "6m", ald = [1, 2',
    )
    error = refusal(path)
    assert_located(
        error,
        path,
        key="indicators.vacc_grippe.population.any[0].min_age",
        indicator="vacc_grippe",
    )
    assert "« 65 ans »" in str(error)


def test_max_age_below_min_age_is_refused(tmp_path):
    """A colorectal population from 50 to 40 years is empty, hence refused."""
    path = write_variant(
        tmp_path,
        'population.min_age = "50y"\npopulation.max_age = "74y"\nexclusions = [\n'
        '  { label = "Coloscopie',
        'population.min_age = "50y"\npopulation.max_age = "40y"\nexclusions = [\n'
        '  { label = "Coloscopie',
    )
    error = refusal(path)
    assert_located(
        error,
        path,
        key="indicators.dep_colorectal.population.max_age",
        indicator="dep_colorectal",
    )


def test_schedule_length_different_from_doses_is_refused(tmp_path):
    """Three ROR doses with a two-entry schedule are refused."""
    path = write_variant(
        tmp_path,
        'evidence = ["vaccin_ror"]\ndoses = 2',
        'evidence = ["vaccin_ror"]\ndoses = 3',
    )
    error = refusal(path)
    assert_located(
        error, path, key="indicators.vacc_ror.schedule", indicator="vacc_ror"
    )
    assert "2 échéance(s) pour 3 dose(s)" in str(error)


def test_code_list_with_an_unknown_system_is_refused(tmp_path):
    """A code list may only use the systems the engine understands."""
    path = write_variant(
        tmp_path,
        'label = "Coloscopie"\nCCAM = [',
        'label = "Coloscopie"\nSNOMED = [',
    )
    error = refusal(path)
    assert_located(error, path, key="codes.coloscopie.SNOMED", indicator=None)
    assert "système de codes inconnu" in str(error)


def test_reversed_cvx_range_is_refused(tmp_path):
    """`521-500` is not a range: its low end is above its high end."""
    path = write_variant(tmp_path, '"500-521"', '"521-500"')
    error = refusal(path)
    assert_located(error, path, key="codes.vaccin_covid.CVX", indicator=None)
    assert "intervalle '521-500' invalide" in str(error)


def test_cvx_range_written_with_an_en_dash_is_a_range(tmp_path):
    """`500–521`, as indicators.md writes it, covers the same codes as `500-521`."""
    path = write_variant(tmp_path, '"500-521"', '"500–521"')
    pack = load_pack(path)
    assert "vaccin_covid" in pack.classify("CVX", "505")


@pytest.mark.parametrize("code", ["500-", "5OO", "12a"])
def test_numeric_code_that_is_neither_number_nor_range_is_refused(tmp_path, code):
    """A CVX entry that is not digits or a range is refused rather than never matching."""
    path = write_variant(tmp_path, '"500-521"', f'"{code}"')
    error = refusal(path)
    assert_located(error, path, key="codes.vaccin_covid.CVX", indicator=None)


def test_blank_atc_prefix_is_refused(tmp_path):
    """An empty ATC level would match every medicine, so it is refused."""
    path = write_variant(tmp_path, 'ATC = ["J07BB"]', 'ATC = ["J07BB", ""]')
    error = refusal(path)
    assert_located(error, path, key="codes.vaccin_grippe.ATC", indicator=None)


def test_duplicate_indicator_id_is_refused(tmp_path):
    """Two indicators may not share an id."""
    path = write_variant(tmp_path, 'id = "vacc_covid"', 'id = "vacc_grippe"')
    error = refusal(path)
    assert_located(
        error, path, key="indicators.vacc_grippe.id", indicator="vacc_grippe"
    )
    assert "indicateur décrit deux fois" in str(error)


def test_invalid_toml_is_refused_with_file_and_line(tmp_path):
    """A syntax error names the file and the line tomllib stopped at."""
    path = write_variant(
        tmp_path, "fee_per_indicator_eur = 5\n", "fee_per_indicator_eur = \n"
    )
    line = SHIPPED.splitlines().index("fee_per_indicator_eur = 5") + 1
    error = refusal(path)
    assert error.path == path
    assert str(path) in str(error)
    assert f"line {line}," in str(error)


def test_missing_format_is_refused(tmp_path):
    """A pack must say which format it is written in."""
    path = write_variant(tmp_path, "format = 1\n", "")
    error = refusal(path)
    assert_located(error, path, key="format", indicator=None)
    assert "réglage obligatoire absent" in str(error)


def test_unsupported_format_version_is_refused(tmp_path):
    """`format = 2` is refused by a reader of format 1."""
    path = write_variant(tmp_path, "format = 1\n", "format = 2\n")
    error = refusal(path)
    assert_located(error, path, key="format", indicator=None)
    assert "version 2 non prise en charge" in str(error)


def test_campaign_outside_its_season_is_refused(tmp_path):
    """A 2025 campaign starting in August is outside season 2025 (from 1 September)."""
    path = write_variant(tmp_path, "start = 2025-10-14", "start = 2025-08-14")
    error = refusal(path)
    assert_located(error, path, key="seasons.campaigns[0].start", indicator=None)
    assert "hors de la saison 2025" in str(error)


def test_default_campaign_start_before_the_season_is_refused(tmp_path):
    """A default campaign starting on 15 August, before the season's 1 September, is refused."""
    path = write_variant(
        tmp_path,
        'default_campaign_start = "10-15"  #',
        'default_campaign_start = "08-15"  #',
    )
    error = refusal(path)
    assert_located(error, path, key="seasons.default_campaign_start", indicator=None)


def test_evidence_start_on_29_february_is_refused(tmp_path):
    """A season cannot start on a day most years lack."""
    path = write_variant(
        tmp_path, 'evidence_start = "09-01"          #', 'evidence_start = "02-29"  #'
    )
    error = refusal(path)
    assert_located(error, path, key="seasons.evidence_start", indicator=None)


def test_due_if_none_entry_without_population_minimum_age_is_refused(tmp_path):
    """`entry` needs an age floor to say when the patient entered the population."""
    path = write_variant(
        tmp_path,
        'due_if_none = "as_of"\npopulation.any = [{ markers = ["diabetique"] }]',
        'due_if_none = "entry"\npopulation.any = [{ markers = ["diabetique"] }]',
    )
    error = refusal(path)
    assert_located(
        error, path, key="indicators.suivi_hba1c.due_if_none", indicator="suivi_hba1c"
    )


def test_rolling_rule_without_requirements_is_refused(tmp_path):
    """A rolling rule must require something."""
    path = write_variant(
        tmp_path,
        '[[indicators.requirements]]\nlabel = "Dépistage du cancer du col"\nany = [\n'
        '  { evidence = ["cytologie_cervicale"], period_months = 36 },\n'
        '  { evidence = ["test_hpv_hr"], period_months = 60, min_age = "30y" },\n]',
        "requirements = []",
    )
    error = refusal(path)
    assert_located(
        error,
        path,
        key="indicators.dep_col_uterus.requirements",
        indicator="dep_col_uterus",
    )


# --- due_if_none: only when no evidence was ever found --------------------------------------


def test_lapsed_hba1c_is_due_six_months_after_it(pack):
    """An HbA1c of 1 June 2025 is due from 1 December 2025, overdue on 15 March 2026."""
    hba1c = Evidence(
        date(2025, 6, 1), "LOINC", "4548-4", EvidenceSource.HL7, result_status="F"
    )
    status = evaluate(pack, diabetic(), [hba1c], [], date(2026, 3, 15)).statuses[
        "suivi_hba1c"
    ]
    assert (status.due, status.overdue_days) == (date(2025, 12, 1), 104)


def test_lapsed_dental_exam_is_due_twelve_months_after_it(pack):
    """A dental exam of 1 June 2024 is due from 1 June 2025, whatever the birthday."""
    patient = Patient("p2", "test", birth_date=date(2010, 1, 10), sex="F")
    exam = Evidence(date(2024, 6, 1), "NGAP", "BDA", EvidenceSource.EHR)
    status = evaluate(pack, patient, [exam], [], date(2026, 3, 15)).statuses[
        "bucco_dentaire"
    ]
    assert status.due == date(2025, 6, 1)


def test_lapsed_result_is_not_due_before_the_patient_entered_the_population(pack):
    """A FIT done at 47 that lapsed at 49 makes the patient due from the 50th birthday."""
    patient = Patient("p3", "test", birth_date=date(1975, 1, 10), sex="M")
    fit = Evidence(
        date(2022, 6, 1), "LOINC", "29771-3", EvidenceSource.HL7, result_status="F"
    )
    status = evaluate(pack, patient, [fit], [], date(2026, 3, 15)).statuses[
        "dep_colorectal"
    ]
    assert status.due == date(2025, 1, 10)


def test_patient_whom_no_alternative_covers_is_not_fait(tmp_path):
    """With only the HPV test (from 30), a 26-year-old is not counted as screened."""
    practice = load_pack(
        write_variant(
            tmp_path,
            '  { evidence = ["cytologie_cervicale"], period_months = 36 },\n',
            "",
        )
    )
    patient = Patient("p4", "test", birth_date=date(2000, 1, 1), sex="F")
    status = evaluate(practice, patient, [], [], date(2026, 3, 15)).statuses[
        "dep_col_uterus"
    ]
    assert status.status != "fait"
