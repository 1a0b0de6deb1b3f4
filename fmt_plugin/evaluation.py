"""Evaluate a practice: gather each patient's evidence and decisions, then run the pure engine.

This is the "store → evaluate" step of the pipeline: it reads the lab results and vaccinations
received over HL7 and the practice's decisions from the store, asks the adapters for EHR acts
(`fmt_patient_acts`), translates codes the pack does not know (`fmt_translate_code`), and hands
plain data to `fmt_plugin.rules.evaluate`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from importlib.resources.abc import Traversable
from pathlib import Path

import pluggy

from fmt_plugin.clinical import ClinicalEvent, StoredClinicalEvent
from fmt_plugin.config import FmtConfig
from fmt_plugin.errors import ConfigError
from fmt_plugin.model import Act, Code, EventKind, Patient
from fmt_plugin.rules import (
    Evidence,
    EvidenceSource,
    Override,
    PatientEvaluation,
    RulePack,
    evaluate,
    load_pack,
)
from fmt_plugin.rules.rates import IndicatorRate, compute_rates
from fmt_plugin.storage import Store


def select_rule_pack(config: FmtConfig, pm: pluggy.PluginManager) -> RulePack:
    """The pack named by `[rules] pack`, among the adapters' packs and the practice's files,
    with the flu and covid seasons of `[practice] territory`.

    Sources are read in increasing precedence: built-in packs (trylast), vendors' packs, then
    the files of `[rules] files`; a pack whose id was already seen replaces the earlier one.
    Every pack is validated, even unused ones: a malformed pack stops start-up (PackError).
    """
    offered: list[Path | Traversable] = []
    # pluggy returns the last-registered/trylast implementations last: reverse for precedence.
    for result in reversed(pm.hook.fmt_rule_packs()):
        offered.extend(result or ())
    offered.extend(config.rules.files)
    packs: dict[str, RulePack] = {}
    for source in offered:
        pack = load_pack(source)
        packs[pack.id] = pack
    if config.rules.pack not in packs:
        known = ", ".join(sorted(packs)) or "aucun"
        raise ConfigError(
            f"jeu de règles « {config.rules.pack} » introuvable",
            path=config.path,
            key="rules.pack",
            expected=f"un de : {known}",
        )
    pack = _with_variants(packs[config.rules.pack], config)
    return _for_territory(pack, config)


def _for_territory(pack: RulePack, config: FmtConfig) -> RulePack:
    """The pack with the seasons of `[practice] territory`, or a ConfigError naming them."""
    territory = config.practice.territory
    try:
        return pack.for_territory(territory)
    except KeyError:
        raise ConfigError(
            f"territoire « {territory} » inconnu du jeu de règles « {pack.id} »",
            path=config.path,
            key="practice.territory",
            expected="un de : " + ", ".join(pack.territories),
        ) from None


def _with_variants(pack: RulePack, config: FmtConfig) -> RulePack:
    """The pack with the rule variants of `[rules] variants`; ConfigError for an unknown one."""
    for indicator_id, name in config.rules.variants.items():
        key = f"rules.variants.{indicator_id}"
        if indicator_id not in pack.indicator_ids:
            offering = [i.id for i in pack.indicators if i.variants]
            raise ConfigError(
                f"indicateur « {indicator_id} » inconnu du jeu « {pack.id} »",
                path=config.path,
                key=key,
                expected="un de : " + (", ".join(offering) or "aucun"),
            )
        names = pack.indicator(indicator_id).variant_names
        if name not in names:
            raise ConfigError(
                f"variante « {name} » inconnue pour {indicator_id}",
                path=config.path,
                key=key,
                expected="une de : " + ", ".join(names),
            )
    return pack.with_variants(config.rules.variants)


class EvidenceCollector:
    """Turns acts and received events into evidence the pack understands (codes translated)."""

    def __init__(self, pack: RulePack, pm: pluggy.PluginManager) -> None:
        self._pack = pack
        self._pm = pm
        self._translations: dict[tuple[str, str], Code | None] = {}

    def acts_of(self, patient_id: str) -> list[Evidence]:
        """Every act the adapters know for the patient, as evidence (source `ehr`)."""
        evidence: list[Evidence] = []
        for acts in self._pm.hook.fmt_patient_acts(patient_id=patient_id, since=None):
            for act in acts or ():
                evidence.append(self.from_act(act))
        return evidence

    def from_act(self, act: Act) -> Evidence:
        """The evidence an act stands for, with the pack's label when the code is known."""
        code = self.translate(act.system, act.code)
        return Evidence(
            date=act.date,
            system=code.system,
            code=code.code,
            source=EvidenceSource.EHR,
            label=self.label(code.system, code.code),
        )

    def from_events(self, events: Sequence[StoredClinicalEvent]) -> list[Evidence]:
        """The evidence of the patient's current HL7 events (source `hl7`)."""
        evidence: list[Evidence] = []
        for stored in events:
            evidence.extend(self.from_event(stored.event))
        return evidence

    def from_event(self, event: ClinicalEvent) -> list[Evidence]:
        """One evidence per coding of the event the pack knows (result code, ordered test,
        alternate code), or the primary coding alone when the pack knows none of them."""
        status = _evidence_status(event)
        found: list[Evidence] = []
        seen: set[tuple[str, str]] = set()
        for coding in event.codings():
            code = self.translate(coding.system, coding.code)
            if not self._pack.knows(code.system, code.code) or (
                (code.system, code.code) in seen
            ):
                continue
            seen.add((code.system, code.code))
            found.append(self._hl7_evidence(event, code, status))
        if not found:
            primary = self.translate(event.coding.system, event.coding.code)
            found.append(self._hl7_evidence(event, primary, status))
        return found

    def _hl7_evidence(
        self, event: ClinicalEvent, code: Code, status: str | None
    ) -> Evidence:
        return Evidence(
            date=event.date,
            system=code.system,
            code=code.code,
            source=EvidenceSource.HL7,
            label=self.label(code.system, code.code) or event.coding.label,
            result_status=status,
        )

    def translate(self, system: str, code: str) -> Code:
        """`(system, code)` itself when the pack knows it, else the adapters' translation."""
        if self._pack.knows(system, code):
            return Code(system, code)
        key = (system, code)
        if key not in self._translations:
            self._translations[key] = self._pm.hook.fmt_translate_code(
                system=system, code=code
            )
        translated = self._translations[key]
        return translated if translated is not None else Code(system, code)

    def label(self, system: str, code: str) -> str:
        """The label of the first code list the code belongs to ("" when unknown)."""
        names = sorted(self._pack.classify(system, code))
        return self._pack.code_lists[names[0]].label if names else ""


@dataclass(frozen=True)
class PracticeEvaluation:
    """Every active patient of the store evaluated at `as_of` with one pack."""

    as_of: date
    pack: RulePack
    patients: Mapping[str, Patient]
    evaluations: Sequence[PatientEvaluation]
    overrides: Mapping[str, Sequence[Override]]  # the decisions in force, by patient id

    @property
    def rates(self) -> dict[str, IndicatorRate]:
        """Taux d'atteinte per indicator of the pack."""
        return compute_rates(self.pack, self.evaluations)


def evaluate_practice(
    store: Store,
    pm: pluggy.PluginManager,
    pack: RulePack,
    as_of: date,
    *,
    patient_ids: Iterable[str] | None = None,
) -> PracticeEvaluation:
    """Evaluate the store's active patients, or only `patient_ids` (active or not), at `as_of`."""
    overrides: Mapping[str, Sequence[Override]]
    events: Mapping[str, Sequence[StoredClinicalEvent]]
    if patient_ids is None:
        patients = {p.patient_id: p for p in store.iter_patients()}
        overrides = store.overrides_by_patient()
        events = store.inbox.current_events_by_patient()
    else:  # one patient's sheet must not decrypt the whole roster
        found = (store.get_patient(i) for i in patient_ids)
        patients = {p.patient_id: p for p in found if p is not None}
        overrides = {i: store.overrides(i) for i in patients}
        events = {i: store.inbox.events_of(i) for i in patients}
    collector = EvidenceCollector(pack, pm)
    evaluations = [
        evaluate(
            pack,
            patient,
            collector.acts_of(patient_id)
            + collector.from_events(events.get(patient_id, ())),
            overrides.get(patient_id, ()),
            as_of,
        )
        for patient_id, patient in patients.items()
    ]
    return PracticeEvaluation(as_of, pack, patients, evaluations, overrides)


def _evidence_status(event: ClinicalEvent) -> str | None:
    """Evidence.result_status: OBX-11 for a result; for a vaccination, None when it counts
    and the RXA-20 status (refused, not administered) when it does not."""
    if event.kind is EventKind.LAB_RESULT:
        return event.status
    return None if event.counts() else event.status
