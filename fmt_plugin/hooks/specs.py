"""Every `fmt_*` hook specification: the contract between fmt-plugin and EHR vendor adapters.

Version 1 of the contract (`HOOKS_VERSION`). An adapter is any object or module with functions
marked `@fmt_plugin.hookimpl`, registered through the entry-point group `fmt_plugin.adapters`,
the configuration's `[plugins] modules` list, or the built-ins. Hooks are always called with
keyword arguments; an implementation may accept a subset of them (pluggy passes only the
arguments it names). Hooks are synchronous and must stay cheap: when I/O is needed, return an
object whose methods the core calls later (see `fmt_recall_channels`).

Built-in implementations are registered with `trylast=True`, so a vendor's implementation of a
`firstresult` hook wins, and a vendor's results come first in a collecting hook.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING

from fmt_plugin.hooks import hookspec

if TYPE_CHECKING:
    from fmt_plugin.config import FmtConfig
    from fmt_plugin.model import (
        Act,
        AdapterInfo,
        Code,
        PatientIdentifier,
        RecallChannel,
        RosterBatch,
        StatusChange,
        StoredEvent,
    )

#: Bumped when a hook is removed or its arguments change incompatibly; not for additions an
#: adapter written earlier cannot notice (a new hook, a model field with a default such as
#: `Patient.c2s`). docs/adapters.md, "Versioning", lists the additions within a version.
HOOKS_VERSION = 1


@hookspec
def fmt_adapter_info() -> AdapterInfo:
    """Say who this adapter is: name, version, and the hook contract version it was written for.

    Collecting hook: every adapter answers; the results are shown by `fmt-plugin check-config`
    and the service's status page. Called at start-up, after registration. Must not block.

    :return: an `AdapterInfo`.
    """
    raise NotImplementedError  # a spec is never called; the body satisfies the return type


@hookspec
def fmt_configure(config: FmtConfig) -> None:
    """Read this adapter's settings, once, before any other hook is called.

    Collecting hook, called at start-up after every adapter is registered. An adapter reads its
    own table with `config.adapter_section(NAME)` (the `[adapters.NAME]` table, or None when the
    practice did not configure it) and calls `Section.finish()` so that unknown keys are refused.
    Raise `fmt_plugin.errors.ConfigError` for a bad setting: start-up stops with its message.
    Any other exception stops start-up with the adapter's name.

    :param config: the validated configuration of the installation.
    :return: nothing.
    """


@hookspec
def fmt_roster(as_of: date) -> RosterBatch | None:
    """Export the practice's patients (the patientèle médecin traitant) as the EHR knows them.

    Collecting hook: every adapter may answer; the core merges the batches by patient identity
    (INS when present, else the patient id), the first answer winning field by field, so a vendor
    adapter overrides the built-in CSV adapter. Called by `fmt-plugin sync` and by the service's
    periodic roster refresh. May read files or a database; must finish in seconds.

    :param as_of: the date the roster is wanted for (the patientèle at that date).
    :return: a `RosterBatch` (patients and the records that had to be rejected, located), or None
        when this adapter has no roster.
    """


@hookspec
def fmt_patient_acts(patient_id: str, since: date | None) -> list[Act] | None:
    """List the acts and exams recorded in the EHR for one patient (CCAM, NGAP, NABM, …).

    Collecting hook: the acts of all adapters are used together (the rules engine dedupes equal
    acts). Called when a patient is evaluated. Must be cheap: index the export once, not per call.

    :param patient_id: the practice's patient id, as returned by `fmt_roster`.
    :param since: only acts on or after this date are needed; None means all.
    :return: the patient's acts, or None when this adapter has none to offer.
    """


@hookspec(firstresult=True)
def fmt_translate_code(system: str, code: str) -> Code | None:
    """Translate a code the rule pack may not know into one it does (LOINC, CVX, ATC, NABM, …).

    `firstresult`: the first adapter returning a `Code` wins; the built-in translation (trylast)
    only normalises standard HL7 coding-system names (`LN` → `LOINC`, `WC` → `ATC`, …). A vendor
    maps its local lab codes, or CIP13/CIS/NUVA vaccine codes, here. Called for every coded
    event before evaluation; must not block (use in-memory tables).

    :param system: the coding system as received (e.g. `LN`, `CIP13`, a lab's local name).
    :param code: the code in that system.
    :return: the translated `Code` (its `system` one of `fmt_plugin.model.KNOWN_CODE_SYSTEMS`), or
        None to let the next adapter try.
    """


@hookspec(firstresult=True)
def fmt_match_patient(identifiers: Sequence[PatientIdentifier]) -> str | None:
    """Find the practice's patient that a message's identifiers designate.

    `firstresult`: the first adapter returning an id wins. The built-in matcher (trylast) looks up
    the INS (PID-3 with a national INS OID) through the store's blind index, then the practice's
    own identifier; it answers None when the identity is unknown or the identifiers disagree.
    Called once per incoming message, before its events are stored; must not block.

    :param identifiers: every identifier the message carries, in the order it gives them.
    :return: the internal patient id, or None when this adapter cannot tell.
    """


@hookspec(firstresult=True)
def fmt_hl7_received(message: str, sender: str) -> str | None:
    """Rewrite a vendor's HL7 v2 quirks before the message is parsed.

    `firstresult`: the first adapter returning a string wins and that string is parsed instead.
    Called once per received message (and again when a quarantined message is replayed), once
    its header was read and before its content is; the store keeps the original bytes, not
    the rewrite. Runs on the store thread: must not block.

    :param message: the message as received, segments separated by `\\r`.
    :param sender: the sending application and facility (MSH-3^MSH-4), for per-sender rules.
    :return: the rewritten message, or None to leave it unchanged.
    """


@hookspec
def fmt_events_stored(events: Sequence[StoredEvent]) -> None:
    """Be told that clinical events were committed to the store (e.g. for EHR write-back).

    Notification: every adapter is called, after the transaction that stored the events has
    committed and before the message is acknowledged (an exception is logged and ignored: the
    message is already safe). The events carry internal ids only; read their content from the
    store if needed. Must not block: it delays the ACK; queue slow work.

    :param events: the events of one message or one import batch.
    :return: nothing.
    """


@hookspec
def fmt_status_changed(change: StatusChange) -> None:
    """Be told that an indicator's status changed for a patient (e.g. to update the EHR's dashboard).

    Notification: every adapter is called, once per change, after the new status was recorded.
    The service calls it within seconds of a committed message, for the patient the message
    is about (re-evaluated in the background, after the ACK), and its nightly status snapshot
    (`[recalls] snapshot_time`, 02:00 by default) re-evaluates everyone, so a date change
    reaches every patient. Each compares the patient's statuses with the last remembered: a
    new status or a new due date is a change; a patient's first evaluation reports every indicator with `old_status`
    None. An exception is logged (its type only) and the other changes are still notified.
    Must not block.

    :param change: the patient id, indicator, old (None: first known) and new status, the new
        due date and the date of evaluation.
    :return: nothing.
    """


@hookspec
def fmt_recall_channels() -> list[RecallChannel] | None:
    """Offer channels that can carry recall reminders to patients (MSSanté, SMS, …).

    Collecting hook, called at start-up; the channels are tried in the order returned, built-in
    ones (trylast) after the vendors'. The hook does no I/O: the core awaits `channel.send`.

    A channel may also have a `check()` method (no argument, blocking allowed): `fmt-plugin
    serve` and `check-config` call it before anything else and refuse to start when it raises
    `fmt_plugin.errors.ConfigError` (e.g. an unreadable certificate), so that a practice learns
    of the problem at start-up rather than at the first recall. Optional: channels without it
    are not checked.

    :return: the channels this adapter offers, or None.
    """


@hookspec
def fmt_rule_packs() -> list[Path | Traversable] | None:
    """Offer extra rule packs, or replacements for the default one (TOML files).

    Collecting hook, called at start-up. A pack whose id equals an earlier one's replaces it,
    so a practice or vendor can ship its own `fmt-2026`. A malformed pack stops start-up.

    :return: paths (or package resources) of rule-pack TOML files, or None.
    """
