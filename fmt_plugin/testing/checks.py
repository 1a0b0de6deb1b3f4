"""The conformance checks of one adapter against hook contract version 1, as plain functions.

Each check raises `AssertionError` whose message names the hook, the field and the patient id
at fault and says what to do; it never quotes a value that could be health data (a name, an
INS, a date of birth, an act's date), because sample exports are not always synthetic and CI
logs are widely readable. A check of an optional hook the adapter does not implement skips
with a reason instead. Checks take the plugin manager built by the real host, the adapter's
name, and what else they need; the fixtures of `fmt_plugin.testing` provide all of them.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import inspect
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import Any

import pluggy
import pytest

from fmt_plugin.config import FmtConfig
from fmt_plugin.errors import ConfigError, FmtError
from fmt_plugin.evaluation import evaluate_practice, select_rule_pack
from fmt_plugin.hooks.host import ENTRY_POINT_GROUP, build_plugin_manager
from fmt_plugin.hooks.specs import HOOKS_VERSION
from fmt_plugin.ins import InvalidIns, check_ins
from fmt_plugin.installation import Installation
from fmt_plugin.model import (
    KNOWN_CODE_SYSTEMS,
    Act,
    AdapterInfo,
    Code,
    EventKind,
    Patient,
    PatientIdentifier,
    RecallChannel,
    RosterBatch,
    RowProblem,
    StatusChange,
    StoredEvent,
)
from fmt_plugin.roster import collect_roster
from fmt_plugin.rules import load_pack
from fmt_plugin.testing.hooks import (
    adapter_hook,
    fail,
    fail_if_any,
    implements,
    require_hook,
    require_plugin,
)

#: The actor the checks' store writes are audited under.
ACTOR = "fmt_plugin.testing"
#: A setting no adapter reads: `fmt_configure` must refuse it by name.
UNKNOWN_SETTING = "fmt_conformance_unknown_setting"
#: A patient id no roster contains.
UNKNOWN_PATIENT = "fmt-conformance-unknown-patient"
#: A coding system no adapter translates.
UNKNOWN_SYSTEM = "FMT-CONFORMANCE-UNKNOWN-SYSTEM"
UNKNOWN_CODE = "FMT-CONFORMANCE-UNKNOWN-CODE"
#: The national assigning authority of the INS (PID-3.4 of an HL7 message).
INS_AUTHORITY = "1.2.250.1.213.1.4.8"
ALD_NUMBERS = range(1, 33)
#: A CIM-10 code once dots are removed, as the rule packs compare them (`E11.9` → `E119`).
_CIM10 = re.compile(r"[A-Z][0-9]{2}[0-9A-Z+]{0,4}")
#: What a flag looks like to the rule packs, which compare them exactly: `risk:grippe`.
_FLAG = re.compile(r"[a-z0-9_.-]+(?::[a-z0-9_.-]+)*")
#: Shapes of identity data that must not appear in a problem's message, whatever the patient.
_IDENTITY_SHAPES = (
    ("a NIR or INS (13 digits or more)", re.compile(r"[0-9]{13}")),
    ("an e-mail address", re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")),
    ("a phone number", re.compile(r"(?:\+33|\b0)[1-9](?:[ .-]?[0-9]{2}){4}\b")),
)
_SAMPLE_HL7 = (
    "MSH|^~\\&|LABO|FMT-CONFORMANCE|FMT|CABINET|20260115103000||ORU^R01^ORU_R01|"
    "FMTCONF0001|P|2.5\r"
    "PID|1||CONF-1^^^CABINET^PI\r"
    "OBR|1||CONF-ORDER-1|4548-4^HbA1c^LN\r"
    "OBX|1|NM|4548-4^HbA1c^LN||6.1|%|||||F"
)


# --- Loading ------------------------------------------------------------------------------


def check_entry_point(name: str) -> importlib.metadata.EntryPoint:
    """Exactly one installed distribution declares the entry point `name` of the adapters group."""
    found = [
        entry_point
        for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        if entry_point.name == name
    ]
    if not found:
        names = sorted(
            ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        )
        fail(
            f"no entry point named {name!r} in group {ENTRY_POINT_GROUP!r} "
            f"(found: {', '.join(names) or 'none'}): declare it in pyproject.toml under "
            f'[project.entry-points."{ENTRY_POINT_GROUP}"] and install the package '
            "(pip install -e .)"
        )
    if len(found) > 1:
        owners = sorted(_distribution_name(entry_point) for entry_point in found)
        fail(
            f"entry point {name!r} is declared by {len(found)} distributions "
            f"({', '.join(owners)}): uninstall the stale one"
        )
    return found[0]


def check_adapter_loads(config: FmtConfig, name: str) -> pluggy.PluginManager:
    """The real plugin host loads, validates and configures the adapter; every hook is marked.

    The host fails closed on an unknown hook or a wrong signature; this check also catches
    the silent mistakes: a `fmt_*` method left without `@fmt_plugin.hookimpl`, or hooks
    marked with a `HookimplMarker` of another project name, which pluggy ignores.
    """
    try:
        pm = build_plugin_manager(config)
    except FmtError as exc:
        raise AssertionError(f"the plugin host refuses to start: {exc}") from exc
    require_plugin(pm, name)
    plugin = pm.get_plugin(name)
    registered = {caller.name for caller in pm.get_hookcallers(plugin) or ()}
    hook_names = {hook for hook in dir(pm.hook) if hook.startswith("fmt_")}
    unmarked = sorted(
        attribute
        for attribute in hook_names - registered
        if callable(getattr(plugin, attribute, None))
    )
    if unmarked:
        fail(
            f"adapter {name!r} defines {', '.join(unmarked)} without marking it: decorate "
            "each hook with @fmt_plugin.hookimpl, or pluggy ignores it"
        )
    if not registered:
        fail(
            f"adapter {name!r} is registered with no hook: mark its hooks with "
            "fmt_plugin.hookimpl (a HookimplMarker of another project name is ignored)"
        )
    return pm


def check_adapter_info(pm: pluggy.PluginManager, name: str) -> AdapterInfo:
    """`fmt_adapter_info` gives an `AdapterInfo` with the adapter's name, a version and
    `hooks_version` equal to this fmt-plugin's `HOOKS_VERSION`."""
    require_plugin(pm, name)
    if not implements(pm, name, "fmt_adapter_info"):
        fail(
            f"adapter {name!r} does not implement fmt_adapter_info: check-config and the "
            "status page need it to show which adapter and version run"
        )
    answers = adapter_hook(pm, name, "fmt_adapter_info")()
    if len(answers) != 1 or not isinstance(answers[0], AdapterInfo):
        got = ", ".join(type(answer).__name__ for answer in answers) or "None"
        fail(f"fmt_adapter_info of {name!r} returned {got}, expected one AdapterInfo")
    info: AdapterInfo = answers[0]
    issues = []
    if info.name != name:
        issues.append(
            f"name is {info.name!r}: give the entry point's name {name!r}, the name "
            f"practices write in [adapters.{name}]"
        )
    if not isinstance(info.version, str) or not info.version.strip():
        issues.append("version is empty: give the adapter package's version")
    if info.hooks_version != HOOKS_VERSION:
        issues.append(
            f"hooks_version is {info.hooks_version!r} but this fmt-plugin implements hook "
            f"contract version {HOOKS_VERSION}: port the adapter (see docs/adapters.md, "
            "versioning) and then declare the version it was written for"
        )
    fail_if_any(issues, f"fmt_adapter_info of {name!r}:")
    return info


# --- Settings -----------------------------------------------------------------------------


def check_configure_refuses_unknown_key(
    pm: pluggy.PluginManager, name: str, config: FmtConfig
) -> None:
    """`fmt_configure` refuses a key it does not know with a `ConfigError` naming it.

    Without `Section.finish()`, a practice's typo (`exprot_dir`) is silently ignored and the
    adapter runs on a default. An adapter with no `fmt_configure` must have an empty table.
    """
    require_plugin(pm, name)
    table = dict(config.adapter_tables.get(name, {}))
    if not implements(pm, name, "fmt_configure"):
        if table:
            fail(
                f"[adapters.{name}] has settings ({', '.join(table)}) but adapter "
                f"{name!r} does not implement fmt_configure: nothing reads them"
            )
        pytest.skip(f"adapter {name!r} takes no settings (no fmt_configure)")
    tables = dict(config.adapter_tables)
    tables[name] = {**table, UNKNOWN_SETTING: "x"}
    typo = dataclasses.replace(config, adapter_tables=tables)
    configure = adapter_hook(pm, name, "fmt_configure")
    try:
        configure(config=typo)
    except ConfigError as exc:
        if UNKNOWN_SETTING not in str(exc):
            raise AssertionError(
                f"fmt_configure of {name!r} refused an unknown key with a ConfigError "
                f"that does not name it: {exc}"
            ) from exc
        return
    except Exception as exc:  # any other type is the failure being reported
        raise AssertionError(
            f"fmt_configure of {name!r} raised {type(exc).__name__} for an unknown key "
            f"in [adapters.{name}]; raise fmt_plugin.errors.ConfigError (Section.finish())"
        ) from exc
    fail(
        f"fmt_configure of {name!r} accepted an unknown key "
        f"adapters.{name}.{UNKNOWN_SETTING}: call section.finish() after reading the keys"
    )


def check_unconfigured_adapter_stays_inactive(
    pm: pluggy.PluginManager, name: str, config: FmtConfig, as_of: date
) -> None:
    """Without an `[adapters.NAME]` table, `fmt_configure` succeeds and the adapter gives
    no patient.

    An installed adapter package is loaded by every installation of that environment, even
    one whose practice did not configure it (a fresh `fmt-plugin init`): it must then stay
    out of the way rather than stop start-up or invent a roster.
    """
    require_hook(pm, name, "fmt_configure")
    tables = {key: value for key, value in config.adapter_tables.items() if key != name}
    bare = dataclasses.replace(config, adapter_tables=tables)
    try:
        adapter_hook(pm, name, "fmt_configure")(config=bare)
    except Exception as exc:  # any exception here is the failure being reported
        raise AssertionError(
            f"fmt_configure of {name!r} raised {type(exc).__name__} for a configuration "
            f"without [adapters.{name}]: return early when config.adapter_section"
            f"({name!r}) is None"
        ) from exc
    if implements(pm, name, "fmt_roster"):
        batches = adapter_hook(pm, name, "fmt_roster")(as_of=as_of)
        if any(isinstance(b, RosterBatch) and b.patients for b in batches):
            fail(
                f"fmt_roster of {name!r} gives patients although the adapter is not "
                "configured: answer None until fmt_configure found its table"
            )


# --- Roster -------------------------------------------------------------------------------


def roster_batch(pm: pluggy.PluginManager, name: str, as_of: date) -> RosterBatch:
    """The adapter's own answer to `fmt_roster(as_of)`, which must be a `RosterBatch`."""
    require_hook(pm, name, "fmt_roster")
    try:
        answers = adapter_hook(pm, name, "fmt_roster")(as_of=as_of)
    except Exception as exc:  # any exception here is the failure being reported
        raise AssertionError(
            f"fmt_roster of {name!r} raised {type(exc).__name__} on the sample "
            "configuration"
        ) from exc
    if not answers:
        fail(
            f"fmt_roster of {name!r} returned None although [adapters.{name}] is "
            "configured: the sample configuration should give a roster"
        )
    batch = answers[0]
    if not isinstance(batch, RosterBatch):
        fail(
            f"fmt_roster of {name!r} returned {type(batch).__name__}, expected a "
            "fmt_plugin.model.RosterBatch"
        )
    return batch


def check_roster(pm: pluggy.PluginManager, name: str, as_of: date) -> RosterBatch:
    """`fmt_roster` gives well-formed patients: unique ids, valid and unique INS in their
    normalised form, birth dates that are dates not after `as_of`, and fields of the types
    and spellings the store and the rule packs expect."""
    batch = roster_batch(pm, name, as_of)
    issues: list[str] = []
    if not isinstance(batch.source, str) or not batch.source:
        issues.append("RosterBatch.source is empty: give the adapter's name")
    if not batch.patients:
        fail(
            f"fmt_roster of {name!r} gave no patient: the sample export must hold some "
            "for the conformance checks to mean anything"
        )
    ids: Counter[str] = Counter()
    owners_by_ins: dict[str, str] = {}
    records: Sequence[object] = batch.patients  # typed as declared, checked as given
    for index, patient in enumerate(records, start=1):
        if not isinstance(patient, Patient):
            issues.append(
                f"patient n° {index} is a {type(patient).__name__}, expected a "
                "fmt_plugin.model.Patient"
            )
            continue
        ids[patient.patient_id] += 1
        issues.extend(_patient_issues(patient, as_of))
        if isinstance(patient.ins, str) and patient.ins:
            owner = owners_by_ins.setdefault(patient.ins, patient.patient_id)
            if owner != patient.patient_id:
                issues.append(
                    f"patients {owner!r} and {patient.patient_id!r} have the same INS: "
                    "one person, two records; reject the second as a RowProblem"
                )
    issues.extend(
        f"patient id {patient_id!r} appears {count} times: keep the first record and "
        "report the others as RowProblems"
        for patient_id, count in sorted(ids.items())
        if count > 1
    )
    fail_if_any(issues, f"fmt_roster of {name!r}:")
    return batch


def _patient_issues(patient: Patient, as_of: date) -> list[str]:
    """What is wrong with one patient record, each issue naming the field and the id."""
    pid = patient.patient_id
    if not isinstance(pid, str) or not pid or pid != pid.strip():
        return [
            f"a patient id is empty or not a stripped string ({pid!r}): it is the "
            + "key of every record"
        ]
    who = f"patient {pid!r}"
    issues = []
    if not isinstance(patient.source, str) or not patient.source:
        issues.append(f"{who}: source is empty: give the adapter's name")
    issues.extend(_ins_issues(who, patient.ins))
    birth = patient.birth_date
    if birth is not None:
        if type(birth) is not date:
            issues.append(
                f"{who}: birth_date is a {type(birth).__name__}, expected a "
                "datetime.date (a datetime cannot be compared with the rule dates)"
            )
        elif birth > as_of:
            issues.append(f"{who}: birth_date is after as_of ({as_of.isoformat()})")
    if patient.sex not in (None, "F", "M"):
        issues.append(f"{who}: sex must be 'F', 'M' or None")
    if not _frozenset_of(patient.ald, int) or not set(patient.ald) <= set(ALD_NUMBERS):
        issues.append(
            f"{who}: ald must be a frozenset of ALD list numbers (integers 1 to 32)"
        )
    if not _frozenset_of(patient.conditions, str) or not all(
        _CIM10.fullmatch(code.replace(".", "").strip().upper())
        for code in patient.conditions
    ):
        issues.append(
            f"{who}: conditions must be a frozenset of CIM-10 codes (E11 or E11.9)"
        )
    if not _frozenset_of(patient.flags, str) or not all(
        _FLAG.fullmatch(flag) for flag in patient.flags
    ):
        issues.append(
            f"{who}: flags must be a frozenset of lower-case flags such as "
            "'risk:grippe' (the rule packs compare them exactly)"
        )
    for flag in ("opposition", "c2s"):
        if not isinstance(getattr(patient, flag), bool):
            issues.append(f"{who}: {flag} must be a bool")
    for field in ("nom", "prenom"):
        if not isinstance(getattr(patient, field), str):
            issues.append(f"{who}: {field} must be a string ('' when unknown)")
    for field in ("mssante", "email", "telephone"):
        value = getattr(patient, field)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            issues.append(f"{who}: {field} must be None when absent, not empty")
    return issues


def _ins_issues(who: str, ins: object) -> list[str]:
    if ins is None:
        return []
    if not isinstance(ins, str):
        return [f"{who}: ins is a {type(ins).__name__}, expected a string or None"]
    try:
        normalised = check_ins(ins)
    except InvalidIns as exc:
        return [
            f"{who}: ins fails check_ins ({exc.reason}): reject the record as a "
            + "RowProblem, or give None for an identity that is not qualified"
        ]
    if normalised != ins:
        return [
            f"{who}: ins is not in its normalised form (check_ins(ins) differs: "
            + "spaces or lower-case 2a/2b): INS matching compares exact strings"
        ]
    return []


def _frozenset_of(value: object, kind: type) -> bool:
    return isinstance(value, frozenset) and all(isinstance(v, kind) for v in value)


def check_roster_problems(batch: RosterBatch) -> None:
    """Each rejected record is a `RowProblem` located by file and line, whose message and
    column quote no identity value (name, INS, birth date, contact) of any patient."""
    if not batch.problems:
        pytest.skip(
            "the sample export has no rejected record: add one (e.g. an invalid INS) so "
            "that the problem reports are checked"
        )
    searched = _identity_patterns(batch.patients)
    issues: list[str] = []
    problems: Sequence[object] = batch.problems  # typed as declared, checked as given
    for index, problem in enumerate(problems, start=1):
        if not isinstance(problem, RowProblem):
            issues.append(
                f"problem n° {index} is a {type(problem).__name__}, expected a "
                "fmt_plugin.model.RowProblem"
            )
            continue
        where = f"problem n° {index}"
        if not problem.source:
            issues.append(f"{where}: source is empty: give the adapter's name")
        if problem.path is None or problem.line is None:
            issues.append(
                f"{where}: not located: give path (the export file) and line (the "
                "record), and column when one field is at fault"
            )
        text = f"{problem.message} {problem.column or ''}"
        issues.extend(
            f"{where}: the message quotes the {field} of patient {pid!r}: name the "
            "column and the patient id instead"
            for pid, field, pattern in searched
            if pattern.search(text)
        )
        issues.extend(
            f"{where}: the message contains what looks like {shape}: name the column "
            "and the patient id instead"
            for shape, pattern in _IDENTITY_SHAPES
            if pattern.search(text)
        )
    fail_if_any(issues, f"RowProblems of {batch.source!r}:")


def _identity_patterns(
    patients: Iterable[object],
) -> list[tuple[str, str, re.Pattern[str]]]:
    """(patient id, field, pattern) for every identity value of `patients` worth searching."""
    found = []
    for patient in patients:
        if not isinstance(patient, Patient):
            continue
        values: list[tuple[str, object]] = [
            (field, getattr(patient, field))
            for field in ("nom", "prenom", "ins", "mssante", "email", "telephone")
        ]
        if isinstance(patient.birth_date, date):
            values.append(("birth_date", patient.birth_date.isoformat()))
            values.append(("birth_date", patient.birth_date.strftime("%d/%m/%Y")))
        for field, value in values:
            if isinstance(value, str) and len(value.strip()) >= 2:
                # Whole words, case as written: a surname such as "Martin" is no
                # mistake inside "martingale", nor is "Date" in "date absente".
                pattern = re.compile(rf"(?<!\w){re.escape(value.strip())}(?!\w)")
                found.append((patient.patient_id, field, pattern))
    return found


def sync_roster(installation: Installation, as_of: date) -> list[str]:
    """Run the `sync` command's path (every adapter's roster, merged, into the store).

    Returns the ids of the merged roster.
    """
    roster = collect_roster(installation.pm, as_of)
    installation.store.sync_roster(roster.patients, actor=ACTOR)
    return [patient.patient_id for patient in roster.patients]


def check_roster_syncs(installation: Installation, name: str, as_of: date) -> None:
    """The adapter's roster goes through `sync` into the encrypted store and comes back equal,
    field by field (wrong types, such as a list for `ald`, do not survive the round trip)."""
    batch = roster_batch(installation.pm, name, as_of)
    roster = collect_roster(installation.pm, as_of)
    merged = {patient.patient_id: patient for patient in roster.patients}
    try:
        installation.store.sync_roster(roster.patients, actor=ACTOR)
    except Exception as exc:  # any exception here is the failure being reported
        raise AssertionError(
            f"storing the roster of {name!r} raised {type(exc).__name__}"
        ) from exc
    active = set(installation.store.patient_ids())
    issues = []
    for patient in batch.patients:
        pid = patient.patient_id
        if pid not in merged:
            issues.append(
                f"patient {pid!r} was left out by the merge of rosters (see the "
                "RowProblems of collect_roster: an INS or id conflict)"
            )
            continue
        stored = installation.store.get_patient(pid)
        if stored is None or pid not in active:
            issues.append(f"patient {pid!r} is not active in the store after sync")
            continue
        issues.extend(
            f"patient {pid!r}: field {field.name} changes through the store: give it "
            "the type fmt_plugin.model.Patient declares"
            for field in dataclasses.fields(Patient)
            if getattr(stored, field.name) != getattr(merged[pid], field.name)
        )
    fail_if_any(issues, f"sync of the roster of {name!r}:")


def check_practice_evaluates(
    installation: Installation, name: str, as_of: date
) -> None:
    """After `sync`, each patient of the adapter is evaluated by the rule pack without error
    (its acts and code translations are used as `fmt-plugin report` uses them)."""
    batch = roster_batch(installation.pm, name, as_of)
    sync_roster(installation, as_of)
    try:
        pack = select_rule_pack(installation.config, installation.pm)
    except FmtError as exc:
        raise AssertionError(f"the rule pack cannot be selected: {exc}") from exc
    issues = []
    for patient in batch.patients:
        try:
            evaluation = evaluate_practice(
                installation.store,
                installation.pm,
                pack,
                as_of,
                patient_ids=[patient.patient_id],
            )
        except Exception as exc:  # the failure being reported, named per patient
            raise AssertionError(
                f"evaluating patient {patient.patient_id!r} of {name!r} raised "
                f"{type(exc).__name__}: see the traceback above; the usual cause is an "
                "answer of fmt_patient_acts or fmt_translate_code of the wrong type"
            ) from exc
        if [e.patient_id for e in evaluation.evaluations] != [patient.patient_id]:
            issues.append(f"patient {patient.patient_id!r} was not evaluated")
    fail_if_any(issues, f"evaluating the patients of {name!r} at {as_of.isoformat()}:")


# --- Acts and codes -----------------------------------------------------------------------


def patient_acts(
    pm: pluggy.PluginManager, name: str, patient_id: str, since: date | None
) -> list[Act]:
    """The adapter's own acts for one patient (its None counts as no act)."""
    try:
        answers = adapter_hook(pm, name, "fmt_patient_acts")(
            patient_id=patient_id, since=since
        )
    except Exception as exc:  # any exception here is the failure being reported
        raise AssertionError(
            f"fmt_patient_acts(patient_id={patient_id!r}, since=...) of {name!r} "
            f"raised {type(exc).__name__}"
        ) from exc
    acts: list[Act] = []
    for answer in answers:
        if not isinstance(answer, list):
            fail(
                f"fmt_patient_acts(patient_id={patient_id!r}) of {name!r} returned a "
                f"{type(answer).__name__}, expected a list of Act or None"
            )
        acts.extend(answer)
    return acts


def check_patient_acts(
    pm: pluggy.PluginManager, name: str, patient_ids: Sequence[str]
) -> dict[str, list[Act]]:
    """`fmt_patient_acts` gives, for each roster patient, `Act`s of that patient with a date
    and a code whose system the rule packs know or `fmt_translate_code` translates.

    Returns the acts by patient id.
    """
    require_hook(pm, name, "fmt_patient_acts")
    issues: list[str] = []
    acts_by_patient: dict[str, list[Act]] = {}
    untranslated: Counter[tuple[str, str]] = Counter()
    translations: dict[tuple[str, str], object] = {}
    for pid in patient_ids:
        acts = patient_acts(pm, name, pid, None)
        acts_by_patient[pid] = acts
        for act in acts:
            issue = _act_issue(pid, act)
            if issue:
                issues.append(issue)
                continue
            key = (act.system, act.code)
            if act.system not in KNOWN_CODE_SYSTEMS:
                if key not in translations:
                    translations[key] = pm.hook.fmt_translate_code(
                        system=act.system, code=act.code
                    )
                if not _is_known_code(translations[key]):
                    untranslated[key] += 1
    issues.extend(
        f"{count} act(s) coded {system}|{code}: the rule packs know only "
        f"{', '.join(sorted(KNOWN_CODE_SYSTEMS))} and fmt_translate_code does not "
        "translate it: add it to the adapter's translation table"
        for (system, code), count in sorted(untranslated.items())
    )
    fail_if_any(issues, f"fmt_patient_acts of {name!r}:")
    if not any(acts_by_patient.values()):
        fail(
            f"fmt_patient_acts of {name!r} gave no act for any of the "
            f"{len(patient_ids)} roster patients: the sample export should hold acts "
            "for these checks to mean anything"
        )
    return acts_by_patient


def _act_issue(patient_id: str, act: object) -> str | None:
    """What is wrong with one act returned for `patient_id`, or None."""
    who = f"fmt_patient_acts(patient_id={patient_id!r})"
    if not isinstance(act, Act):
        return f"{who} gave a {type(act).__name__}, expected a fmt_plugin.model.Act"
    if act.patient_id != patient_id:
        return (
            f"{who} gave an act of patient {act.patient_id!r}: give only the acts of "
            "the patient asked for"
        )
    if type(act.date) is not date:
        return (
            f"{who}: Act.date is a {type(act.date).__name__}, expected a datetime.date"
        )
    for field in ("system", "code"):
        value = getattr(act, field)
        if not isinstance(value, str) or not value or value != value.strip():
            return f"{who}: Act.{field} must be a non-empty stripped string"
    return None


def _is_known_code(code: object) -> bool:
    return (
        isinstance(code, Code)
        and code.system in KNOWN_CODE_SYSTEMS
        and isinstance(code.code, str)
        and bool(code.code.strip())
    )


def check_patient_acts_since(
    pm: pluggy.PluginManager, name: str, patient_ids: Sequence[str]
) -> None:
    """`fmt_patient_acts(since=D)` gives exactly the acts on or after D, for a patient whose
    acts span several dates, and none for a date after the last one."""
    require_hook(pm, name, "fmt_patient_acts")
    # (number of act dates, patient id, acts) of patients with acts on two dates or more;
    # malformed acts are check_patient_acts' business, not this check's.
    candidates: list[tuple[int, str, list[Act]]] = []
    for pid in patient_ids:
        acts = patient_acts(pm, name, pid, None)
        if all(isinstance(act, Act) and type(act.date) is date for act in acts):
            count = len({act.date for act in acts})
            if count >= 2:
                candidates.append((count, pid, acts))
    if not candidates:
        pytest.skip(
            "no roster patient has acts on two dates or more: add one to the sample "
            "export so that `since` is checked"
        )
    _, pid, acts = max(candidates, key=lambda candidate: candidate[0])
    dates = sorted({act.date for act in acts})
    since = dates[len(dates) // 2]
    expected = Counter(act for act in acts if act.date >= since)
    got = Counter(patient_acts(pm, name, pid, since))
    if got != expected:
        fail(
            f"fmt_patient_acts(patient_id={pid!r}, since=<the date of one of its acts>) "
            f"of {name!r} gave {got.total()} act(s); of its acts without `since`, "
            f"{expected.total()} are on or after that date: filter with act.date >= since"
        )
    later = patient_acts(pm, name, pid, dates[-1] + timedelta(days=1))
    if later:
        fail(
            f"fmt_patient_acts(patient_id={pid!r}, since=<after its last act>) of "
            f"{name!r} gave {len(later)} act(s), expected none"
        )


def check_patient_acts_of_unknown_patient(pm: pluggy.PluginManager, name: str) -> None:
    """`fmt_patient_acts` for a patient id the adapter does not know answers None or [],
    without raising (the core asks every adapter about every patient)."""
    require_hook(pm, name, "fmt_patient_acts")
    acts = patient_acts(pm, name, UNKNOWN_PATIENT, None)
    if acts:
        fail(
            f"fmt_patient_acts(patient_id={UNKNOWN_PATIENT!r}) of {name!r} gave "
            f"{len(acts)} act(s) for a patient not in its roster: answer None"
        )


def check_translate_code(
    pm: pluggy.PluginManager,
    name: str,
    codes: Iterable[tuple[str, str]],
    act_codes: Iterable[tuple[str, str]] = (),
) -> None:
    """`fmt_translate_code` gives a `Code` whose system is in `KNOWN_CODE_SYSTEMS` for each
    of `codes` (those the adapter says it translates), and None or such a `Code` for each of
    `act_codes` (the local codes of its acts, some of which a built-in may translate)."""
    require_hook(pm, name, "fmt_translate_code")
    required = list(dict.fromkeys(codes))
    to_try = list(dict.fromkeys([*required, *act_codes]))
    if not to_try:
        pytest.skip(
            "no local code to translate: list some in translated_codes (the conformance "
            "class attribute) or in the sample export's acts"
        )
    translate = adapter_hook(pm, name, "fmt_translate_code")
    issues = []
    for system, code in to_try:
        call = f"fmt_translate_code(system={system!r}, code={code!r})"
        result = _call(translate, name, call, system=system, code=code)
        if result is None:
            if (system, code) in required:
                issues.append(
                    f"{call} gave None for a code the adapter should translate"
                )
        elif not isinstance(result, Code):
            issues.append(
                f"{call} gave a {type(result).__name__}, expected a fmt_plugin.model.Code"
            )
        elif not _is_known_code(result):
            issues.append(
                f"{call} gave system {result.system!r}, which the rule packs do not "
                f"know: use one of {', '.join(sorted(KNOWN_CODE_SYSTEMS))} (exact case), "
                "with a non-empty code"
            )
    fail_if_any(issues, f"fmt_translate_code of {name!r}:")


def check_translate_code_ignores_unknown(
    pm: pluggy.PluginManager, name: str, local_systems: Iterable[str] = ()
) -> None:
    """`fmt_translate_code` answers None for a system it does not know, and for an unknown
    code of its own systems, so that the next adapter (or the built-in) may answer."""
    require_hook(pm, name, "fmt_translate_code")
    translate = adapter_hook(pm, name, "fmt_translate_code")
    for system in (UNKNOWN_SYSTEM, *dict.fromkeys(local_systems)):
        call = f"fmt_translate_code(system={system!r}, code={UNKNOWN_CODE!r})"
        result = _call(translate, name, call, system=system, code=UNKNOWN_CODE)
        if result is not None:
            fail(
                f"{call} of {name!r} gave {result!r} for a code it cannot know: answer None"
            )


# --- Optional hooks -----------------------------------------------------------------------


def check_match_patient(
    pm: pluggy.PluginManager, name: str, patients: Sequence[Patient]
) -> None:
    """`fmt_match_patient` gives, for a roster patient's INS or own id, that patient's id or
    None, and None for an identity it does not know or for no identifier at all."""
    require_hook(pm, name, "fmt_match_patient")
    match = adapter_hook(pm, name, "fmt_match_patient")
    issues = []
    for patient in patients:
        identifiers = [PatientIdentifier(patient.patient_id, "PI", "CABINET")]
        if patient.ins:
            identifiers.insert(0, PatientIdentifier(patient.ins, "INS", INS_AUTHORITY))
        found = _call(match, name, "fmt_match_patient", identifiers=identifiers)
        if found not in (None, patient.patient_id):
            issues.append(
                f"the identifiers of patient {patient.patient_id!r} matched "
                f"{found!r}: give that patient's id or None"
            )
    spare = _spare_ins({p.ins for p in patients if p.ins})
    unknown = [PatientIdentifier(spare, "INS", INS_AUTHORITY)]
    for identifiers in (unknown, []):
        found = _call(match, name, "fmt_match_patient", identifiers=identifiers)
        if found is not None:
            what = "an INS of no roster patient" if identifiers else "no identifier"
            issues.append(f"{what} matched {found!r}: answer None")
    fail_if_any(issues, f"fmt_match_patient of {name!r}:")


def _spare_ins(taken: set[str]) -> str:
    """A valid matricule INS that no patient of the roster carries."""
    for order in range(1, 1000):
        number = f"180017505{order:04d}"
        candidate = f"{number}{97 - int(number) % 97:02d}"
        if candidate not in taken:
            return check_ins(candidate)
    raise AssertionError("no spare INS")  # unreachable with fewer than 999 patients


def check_recall_channels(
    pm: pluggy.PluginManager, name: str, patients: Sequence[Patient]
) -> None:
    """`fmt_recall_channels` gives objects satisfying `RecallChannel`: a unique non-empty
    `name`, `can_reach(patient)` returning a bool without raising, and an async `send`."""
    require_hook(pm, name, "fmt_recall_channels")
    answers = adapter_hook(pm, name, "fmt_recall_channels")()
    issues = []
    channels: list[Any] = []
    for answer in answers:
        if not isinstance(answer, list):
            fail(
                f"fmt_recall_channels of {name!r} returned a {type(answer).__name__}, "
                "expected a list of channels or None"
            )
        channels.extend(answer)
    if not channels:
        pytest.skip(
            f"adapter {name!r} offers no recall channel with this configuration"
        )
    for index, channel in enumerate(channels, start=1):
        if not isinstance(channel, RecallChannel):
            issues.append(
                f"channel n° {index} ({type(channel).__name__}) lacks name, can_reach "
                "or send (fmt_plugin.model.RecallChannel)"
            )
            continue
        label = f"channel {channel.name!r}"
        if not isinstance(channel.name, str) or not channel.name:
            issues.append(f"channel n° {index}: name must be a non-empty string")
        if not inspect.iscoroutinefunction(channel.send):
            issues.append(f"{label}: send must be an async method (the core awaits it)")
        for patient in patients:
            try:
                reach: object = channel.can_reach(patient)
            except Exception as exc:  # any exception here is the failure being reported
                raise AssertionError(
                    f"{label}: can_reach(patient {patient.patient_id!r}) raised "
                    f"{type(exc).__name__}: answer False when there is no address"
                ) from exc
            if not isinstance(reach, bool):
                issues.append(
                    f"{label}: can_reach(patient {patient.patient_id!r}) returned a "
                    f"{type(reach).__name__}, expected a bool"
                )
    all_names = [
        getattr(channel, "name", None)
        for answer in pm.hook.fmt_recall_channels()
        for channel in answer or ()
    ]
    issues.extend(
        f"channel name {channel_name!r} is used {count} times among all adapters' "
        "channels: the outbox records attempts by channel name"
        for channel_name, count in sorted(Counter(all_names).items(), key=str)
        if count > 1
    )
    fail_if_any(issues, f"fmt_recall_channels of {name!r}:")


def check_hl7_received(pm: pluggy.PluginManager, name: str) -> None:
    """`fmt_hl7_received` answers None or a message still starting with its MSH segment."""
    require_hook(pm, name, "fmt_hl7_received")
    rewrite = adapter_hook(pm, name, "fmt_hl7_received")
    result = _call(
        rewrite,
        name,
        "fmt_hl7_received",
        message=_SAMPLE_HL7,
        sender="LABO^FMT-CONFORMANCE",
    )
    if result is not None and (
        not isinstance(result, str) or not result.startswith("MSH")
    ):
        fail(
            f"fmt_hl7_received of {name!r} gave a {type(result).__name__} that is not an "
            "HL7 message starting with MSH: answer None to leave a message unchanged"
        )


def check_notifications(
    pm: pluggy.PluginManager, name: str, patient_id: str, as_of: date
) -> None:
    """`fmt_events_stored` and `fmt_status_changed` accept sample notifications, return None
    and do not raise (an exception there is logged and lost, or delays an ACK)."""
    calls: list[tuple[str, dict[str, object]]] = [
        (
            "fmt_events_stored",
            {"events": [StoredEvent(1, patient_id, EventKind.LAB_RESULT)]},
        ),
        (
            "fmt_status_changed",
            {
                "change": StatusChange(
                    patient_id, "suivi_hba1c", None, "a_verifier", as_of
                )
            },
        ),
    ]
    implemented = [
        (hook, kwargs) for hook, kwargs in calls if implements(pm, name, hook)
    ]
    if not implemented:
        require_plugin(pm, name)
        pytest.skip(f"adapter {name!r} implements no notification hook")
    for hook, kwargs in implemented:
        answers = _call(adapter_hook(pm, name, hook), name, hook, **kwargs)
        if answers:
            fail(f"{hook} of {name!r} returned a value: a notification returns None")


def check_rule_packs(pm: pluggy.PluginManager, name: str) -> None:
    """Every rule pack `fmt_rule_packs` offers loads and validates."""
    require_hook(pm, name, "fmt_rule_packs")
    answers = adapter_hook(pm, name, "fmt_rule_packs")()
    sources = [source for answer in answers for source in answer or ()]
    if not sources:
        pytest.skip(f"adapter {name!r} offers no rule pack")
    for source in sources:
        try:
            load_pack(source)
        except FmtError as exc:
            raise AssertionError(
                f"rule pack offered by {name!r} does not load: {exc}"
            ) from exc


def _call(caller: Any, name: str, call: str, **kwargs: object) -> Any:
    """`caller(**kwargs)`, an exception turned into a failure naming the call."""
    try:
        return caller(**kwargs)
    except Exception as exc:  # any exception here is the failure being reported
        raise AssertionError(
            f"{call} of {name!r} raised {type(exc).__name__}: a hook answers None for "
            "what it cannot handle"
        ) from exc


def _distribution_name(entry_point: importlib.metadata.EntryPoint) -> str:
    dist = entry_point.dist
    return dist.name if dist is not None else "an unknown distribution"
