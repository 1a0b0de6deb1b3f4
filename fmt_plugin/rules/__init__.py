"""The rules: indicator packs as data (TOML) and the pure engine that evaluates them."""

from __future__ import annotations

from fmt_plugin.rules.engine import evaluate, evaluate_many
from fmt_plugin.rules.model import (
    Evidence,
    EvidenceSource,
    IndicatorStatus,
    Override,
    OverrideKind,
    PatientEvaluation,
    Status,
)
from fmt_plugin.rules.pack import PackError, RulePack, load_default_pack, load_pack

__all__ = [
    "Evidence",
    "EvidenceSource",
    "IndicatorStatus",
    "Override",
    "OverrideKind",
    "PackError",
    "PatientEvaluation",
    "RulePack",
    "Status",
    "evaluate",
    "evaluate_many",
    "load_default_pack",
    "load_pack",
]
