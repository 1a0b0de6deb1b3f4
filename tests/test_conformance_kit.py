"""The conformance kit passes the example adapter package and fails broken adapters by name.

The broken adapters are one small adapter with a single defect each, run through the kit's
`AdapterConformance` class by pytester (in process); the unbroken one passes every check.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

# Imported here once: pytester's in-process runs would otherwise import the kit (and the
# evaluation and store modules behind it) afresh for every run.
import fmt_plugin.testing  # noqa: F401
from fmt_plugin.hooks.host import ENTRY_POINT_GROUP

pytest_plugins = ["pytester"]

ROOT = Path(__file__).parents[1]
EXAMPLE = ROOT / "examples" / "fmt-adapter-example"

TINY_ADAPTER = """
import dataclasses
from datetime import date
from pathlib import Path

from fmt_plugin import hookimpl
from fmt_plugin.model import Act, AdapterInfo, Code, Patient, RosterBatch, RowProblem

NAME = "tiny_ehr"
HOOKS_VERSION = 1
PATIENTS = [
    Patient(
        "T-1", NAME, ins="258037505612368", nom="BERNARD", prenom="Lucie",
        birth_date=date(1958, 3, 14), sex="F", ald=frozenset({8}),
    ),
    Patient(
        "T-2", NAME, ins="149076912304517", nom="PETIT", prenom="Henri",
        birth_date=date(1949, 7, 2), sex="M",
    ),
]
PROBLEMS = [
    RowProblem(NAME, "« ins » : clé de contrôle fausse", Path("export.csv"), 4, "ins"),
]
ACTS = {
    "T-1": [
        Act("T-1", date(2025, 7, 8), "LABO", "HBA"),
        Act("T-1", date(2025, 12, 10), "LABO", "HBA"),
    ],
}
TRANSLATIONS = {("LABO", "HBA"): Code("LOINC", "4548-4")}


def translate(system, code):
    return TRANSLATIONS.get((system, code))


class TinyAdapter:
    def __init__(self):
        self.configured = False

    @hookimpl
    def fmt_adapter_info(self):
        return AdapterInfo(NAME, "0.1", hooks_version=HOOKS_VERSION)

    @hookimpl
    def fmt_configure(self, config):
        self.configured = False
        section = config.adapter_section(NAME)
        if section is None:
            return
        section.string("site", "")
        section.finish()
        self.configured = True

    @hookimpl
    def fmt_roster(self, as_of):
        if not self.configured:
            return None
        return RosterBatch(NAME, tuple(PATIENTS), tuple(PROBLEMS))

    @hookimpl
    def fmt_patient_acts(self, patient_id, since):
        if not self.configured:
            return None
        acts = ACTS.get(patient_id, [])
        return [act for act in acts if since is None or act.date >= since]

    @hookimpl
    def fmt_translate_code(self, system, code):
        return translate(system, code)
"""

CONFORMANCE_TEST = """
from fmt_plugin.testing import AdapterConformance


class TestTiny(AdapterConformance):
    adapter_name = "tiny_ehr"
    adapter_config = 'site = "test"'
    translated_codes = (("LABO", "HBA"),)
"""

#: The kit's tests skipped for the tiny adapter: match, channels, HL7, notifications, packs.
SKIPPED_OPTIONAL = 5


def write_dist_info(
    site: Path, distribution: str, entry_points: dict[str, str]
) -> None:
    """An installed distribution's metadata in `site`: what `pip install` leaves behind."""
    dist_info = site / f"{distribution.replace('-', '_')}-0.0.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 0.0.0\n",
        encoding="utf-8",
    )
    lines = [f"{name} = {reference}" for name, reference in entry_points.items()]
    (dist_info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\n" + "\n".join(lines) + "\n", encoding="utf-8"
    )


def run_kit(pytester: pytest.Pytester, defect: str = "") -> pytest.RunResult:
    """Run the conformance class on the tiny adapter with `defect` appended to its module."""
    pytester.makepyfile(tiny_ehr=TINY_ADAPTER + textwrap.dedent(defect))
    write_dist_info(pytester.path, "tiny-ehr", {"tiny_ehr": "tiny_ehr:TinyAdapter"})
    pytester.syspathinsert()
    pytester.makeconftest('pytest_plugins = ["fmt_plugin.testing"]')
    pytester.makepyfile(test_tiny=CONFORMANCE_TEST)
    return pytester.runpytest(
        "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-rfs"
    )


def failed_tests(result: pytest.RunResult) -> set[str]:
    """The names of the kit's tests that failed in `result` (its `-rf` summary lines)."""
    return {
        line.split("::")[2].split(" ")[0]
        for line in result.outlines
        if line.startswith("FAILED test_tiny.py::TestTiny::")
    }


def test_example_package_passes_its_own_suite(tmp_path):
    """The example adapter's tests, run as its CI would, pass with the kit."""
    pyproject = tomllib.loads((EXAMPLE / "pyproject.toml").read_text(encoding="utf-8"))
    entry_points = pyproject["project"]["entry-points"][ENTRY_POINT_GROUP]
    site = tmp_path / "site"
    write_dist_info(site, pyproject["project"]["name"], entry_points)
    env = dict(os.environ)
    # The checkout's core first: the example must pass against this fmt-plugin, not against
    # whichever one the interpreter has installed (a worktree shares the editable install).
    core = Path(__file__).parents[1]
    env["PYTHONPATH"] = os.pathsep.join([str(core), str(site), str(EXAMPLE / "src")])
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # leave no __pycache__ in examples/
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs"],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout


def test_kit_passes_an_adapter_without_defect(pytester):
    """The tiny adapter passes every check; the optional hooks it lacks are skipped."""
    result = run_kit(pytester)
    result.assert_outcomes(passed=19 - SKIPPED_OPTIONAL, skipped=SKIPPED_OPTIONAL)
    result.stdout.fnmatch_lines(["*does not implement fmt_match_patient*"])


def test_kit_fails_an_adapter_written_for_another_hooks_version(pytester):
    """An AdapterInfo with another hooks_version fails the adapter-info check, naming it."""
    result = run_kit(pytester, "HOOKS_VERSION = 2\n")
    assert failed_tests(result) == {
        "test_adapter_info_names_the_adapter_and_its_hooks_version"
    }
    result.stdout.fnmatch_lines(["*hooks_version is 2 but this fmt-plugin*version 1*"])


def test_kit_fails_a_roster_with_an_invalid_ins(pytester):
    """A patient whose INS fails its control key fails the roster check, naming the patient."""
    defect = """
        PATIENTS[1] = dataclasses.replace(PATIENTS[1], ins="149076912304518")
    """
    result = run_kit(pytester, defect)
    assert failed_tests(result) == {"test_roster_patients_are_well_formed"}
    result.stdout.fnmatch_lines(
        ["*patient 'T-2': ins fails check_ins*clé de contrôle*"]
    )
    assert "149076912304518" not in result.stdout.str()


def test_kit_fails_a_roster_with_duplicate_patient_ids(pytester):
    """Two records with one patient id fail the roster check, naming the id."""
    defect = """
        PATIENTS.append(dataclasses.replace(PATIENTS[0], ins=None))
    """
    result = run_kit(pytester, defect)
    assert failed_tests(result) == {"test_roster_patients_are_well_formed"}
    result.stdout.fnmatch_lines(["*patient id 'T-1' appears 2 times*"])


def test_kit_fails_a_translation_to_an_unknown_system(pytester):
    """A translation into a system the rule packs do not know fails, naming the system."""
    defect = """
        def translate(system, code):
            if (system, code) in TRANSLATIONS:
                return Code("LOINC-FR", "4548-4")
            return None
    """
    result = run_kit(pytester, defect)
    assert failed_tests(result) == {
        "test_patient_acts_are_well_formed",
        "test_translate_code_gives_known_systems",
    }
    result.stdout.fnmatch_lines(
        ["*fmt_translate_code(system='LABO', code='HBA') gave system 'LOINC-FR'*"]
    )


def test_kit_fails_a_problem_quoting_a_patient_name(pytester):
    """A RowProblem whose message quotes a patient's name fails, naming field and patient."""
    defect = """
        PROBLEMS.append(
            RowProblem(NAME, "BERNARD : téléphone absent", Path("export.csv"), 2, "tel")
        )
    """
    result = run_kit(pytester, defect)
    assert failed_tests(result) == {
        "test_roster_problems_are_located_without_identity_values"
    }
    result.stdout.fnmatch_lines(
        ["*problem n° 2: the message quotes the nom of patient 'T-1'*"]
    )


def test_kit_fails_a_hook_left_without_its_marker(pytester):
    """A `fmt_*` method without @hookimpl, which pluggy silently ignores, fails loading."""
    defect = """
        class TinyAdapter(TinyAdapter):
            def fmt_match_patient(self, identifiers):
                return None
    """
    result = run_kit(pytester, defect)
    assert failed_tests(result) == {"test_adapter_loads_with_the_real_host"}
    result.stdout.fnmatch_lines(["*defines fmt_match_patient without marking it*"])


def test_kit_fails_settings_that_are_never_checked(pytester):
    """An adapter that does not call `Section.finish()` fails the unknown-key check."""
    defect = """
        class TinyAdapter(TinyAdapter):
            @hookimpl
            def fmt_configure(self, config):
                self.configured = config.adapter_section(NAME) is not None
    """
    result = run_kit(pytester, defect)
    assert failed_tests(result) == {"test_configure_refuses_an_unknown_key"}
    result.stdout.fnmatch_lines(["*accepted an unknown key*call section.finish()*"])


def test_nothing_outside_the_kit_imports_it_or_pytest():
    """The service and the CLI never load pytest: only fmt_plugin.testing imports it."""
    offenders = []
    for path in (ROOT / "fmt_plugin").rglob("*.py"):
        if "testing" in path.relative_to(ROOT / "fmt_plugin").parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{path.relative_to(ROOT)} imports {name}"
                for name in names
                if name.split(".")[0] == "pytest"
                or name.startswith("fmt_plugin.testing")
            ]
    assert offenders == []
