"""Tests of the encrypted recall outbox and its state machine, on real SQLite store files."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import raw
from recall_data import due_item as item
from recall_data import planned_recall as recall
from recall_data import roster_store

from fmt_plugin.errors import DecryptionError, StoreError
from fmt_plugin.recalls.model import Audience, PastRecall, PlannedRecall, RecallState
from fmt_plugin.rules.model import Status
from fmt_plugin.storage import KeyRing, Store
from fmt_plugin.storage.outbox import SYSTEM_ACTOR, RecallOutbox, RecallStateError

DOMAIN = "cabinet.mssante.fr"
PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 3, 16, 9, 0, tzinfo=PARIS)
S = RecallState


@pytest.fixture
def store(store_path: Path, keyring: KeyRing) -> Iterator[Store]:
    with roster_store(store_path, keyring, "P001", "P002") as opened:
        yield opened


@pytest.fixture
def outbox(store: Store) -> RecallOutbox:
    return store.outbox


def plan_one(outbox: RecallOutbox, planned: PlannedRecall | None = None) -> int:
    (recall_id,) = outbox.add_planned(
        [planned or recall()], now=NOW, message_id_domain=DOMAIN
    )
    return recall_id


def audit_entries(path: Path) -> list[tuple[str, str, str | None, str | None]]:
    with raw(path) as conn:
        return conn.execute(
            "SELECT actor, action, target, detail FROM audit_log ORDER BY seq"
        ).fetchall()


# --- planning and identity ---------------------------------------------------------------


def test_new_store_has_the_outbox_tables(store):
    """A freshly created store has the recall outbox migration applied."""
    with raw(store.path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        names = [r[0] for r in conn.execute("SELECT name FROM schema_migrations")]
    assert {"recall_messages", "recall_items"} <= tables
    assert "recall_outbox" in names


def test_same_plan_twice_creates_one_message(outbox):
    """Adding the same planned recall twice creates one message; the second call adds none."""
    plan = [recall("P001", item("dep_colorectal"), item("vacc_grippe", cycle="s-2025"))]
    first = outbox.add_planned(plan, now=NOW, message_id_domain=DOMAIN)
    second = outbox.add_planned(plan, now=NOW, message_id_domain=DOMAIN)
    assert first == [1]
    assert second == []
    assert [entry.id for entry in outbox.entries()] == [1]


def test_partial_overlap_records_only_new_items(outbox):
    """A recall sharing some items with an earlier one becomes a message of the new items only."""
    plan_one(outbox, recall("P001", item("dep_colorectal")))
    (second,) = outbox.add_planned(
        [recall("P001", item("dep_colorectal"), item("dep_sein"))],
        now=NOW,
        message_id_domain=DOMAIN,
    )
    assert outbox.content(second).items == (item("dep_sein"),)
    assert outbox.get(second).indicators == ("dep_sein",)


def test_item_identity_includes_cycle_and_step(outbox):
    """Another cycle or another step of the same indicator is a new item."""
    plan_one(outbox, recall("P001", item(step=1)))
    created = outbox.add_planned(
        [recall("P001", item(step=2)), recall("P002", item())],
        now=NOW,
        message_id_domain=DOMAIN,
    )
    again = outbox.add_planned(
        [recall("P001", item(cycle="2030-01-01"))], now=NOW, message_id_domain=DOMAIN
    )
    assert created == [2, 3]
    assert again == [4]


def test_duplicate_item_within_one_call_is_recorded_once(outbox):
    """The same identity twice in one call is kept in the first recall only."""
    created = outbox.add_planned(
        [recall("P001", item(), item()), recall("P001", item())],
        now=NOW,
        message_id_domain=DOMAIN,
    )
    assert created == [1]
    assert outbox.content(1).items == (item(),)


def test_unknown_patient_is_refused_and_nothing_written(outbox, store_path):
    """A recall for a patient the store does not know raises StoreError; the batch is undone."""
    before = audit_entries(store_path)
    with pytest.raises(StoreError, match="P999"):
        outbox.add_planned(
            [recall("P001"), recall("P999")], now=NOW, message_id_domain=DOMAIN
        )
    assert outbox.entries() == []
    assert audit_entries(store_path) == before


def test_message_ids_are_rfc5322_and_distinct(outbox):
    """Each message gets its own `<left@domain>` Message-ID on the configured domain."""
    outbox.add_planned(
        [recall("P001"), recall("P002")], now=NOW, message_id_domain=DOMAIN
    )
    ids = [entry.message_id for entry in outbox.entries()]
    assert len(set(ids)) == 2
    for message_id in ids:
        assert re.fullmatch(r"<[A-Za-z0-9.]+@cabinet\.mssante\.fr>", message_id)


def test_bad_message_id_domain_is_refused(outbox):
    """A domain that would break the Message-ID raises ValueError and records nothing."""
    with pytest.raises(ValueError, match="domain"):
        outbox.add_planned([recall()], now=NOW, message_id_domain="a b>")
    assert outbox.entries() == []


def test_naive_time_is_refused(outbox):
    """A time without a time zone raises ValueError instead of being guessed at."""
    naive = NOW.replace(tzinfo=None)
    with pytest.raises(ValueError, match="timezone"):
        outbox.add_planned([recall()], now=naive, message_id_domain=DOMAIN)


def test_new_message_is_planned_with_no_attempt(outbox):
    """A new message is `planned`, never tried, stamped with the planning time."""
    entry = outbox.get(plan_one(outbox))
    assert entry.state is S.PLANNED
    assert entry.attempts == 0
    assert entry.channel is None
    assert entry.created_at == NOW
    assert entry.sent_at is None
    assert entry.patient_id == "P001"


def test_get_unknown_recall_returns_none(outbox):
    """An id that names no message gives None."""
    assert outbox.get(42) is None


# --- content and encryption --------------------------------------------------------------


def test_content_round_trips_after_reopen(store_path, keyring):
    """The audience and every item field read back equal after the store is reopened."""
    planned = PlannedRecall(
        "P001",
        Audience.PARENTS,
        (item("exam_9e_mois", status=Status.A_VENIR), item("vacc_ror", due=None)),
    )
    with roster_store(store_path, keyring, "P001") as created:
        recall_id = plan_one(created.outbox, planned)
    with Store.open(store_path, keyring) as reopened:
        assert reopened.outbox.content(recall_id) == planned


def test_content_of_unknown_recall_raises_store_error(outbox):
    """Asking for the content of an id that names no message raises StoreError."""
    with pytest.raises(StoreError, match="42"):
        outbox.content(42)


def test_content_never_in_clear_in_db_or_wal(outbox, store, store_path):
    """Indicators, labels and cycles are not in the file or its WAL; the patient id is, by design."""
    plan_one(
        outbox,
        recall(
            "P001",
            item("suivi_hba1c", label="Hémoglobine glyquée", cycle="2027-02-19"),
            item("dep_sein", label="Dépistage cancer du sein", cycle="2027-06-30"),
        ),
    )
    outbox.entries()  # decrypts, which must leave nothing behind either
    content = store_path.read_bytes() + Path(f"{store_path}-wal").read_bytes()
    store.close()
    after_close = store_path.read_bytes()
    secrets = ["suivi_hba1c", "Hémoglobine glyquée", "2027-02-19", "dep_sein"]
    secrets += ["Dépistage cancer du sein", "2027-06-30", "a_verifier"]
    for secret in secrets:
        for encoded in (secret.encode("utf-8"), secret.encode("utf-16-le")):
            assert encoded not in content, secret
            assert encoded not in after_close, secret
    assert b"P001" in after_close


def test_content_moved_to_another_row_does_not_decrypt(outbox, store_path):
    """A content copied onto another message's row raises DecryptionError when read."""
    outbox.add_planned(
        [recall("P001"), recall("P002")], now=NOW, message_id_domain=DOMAIN
    )
    with raw(store_path) as conn:
        conn.execute(
            "UPDATE recall_messages SET content ="
            " (SELECT content FROM recall_messages WHERE recall_id = 1)"
            " WHERE recall_id = 2"
        )
    assert outbox.content(1) == recall("P001")
    with pytest.raises(DecryptionError):
        outbox.content(2)


# --- reads -------------------------------------------------------------------------------


def test_history_lists_every_item_with_state_and_paris_sent_on(outbox):
    """History has one PastRecall per item; sent_on is the Paris date of the sending time."""
    first = plan_one(outbox, recall("P001", item("dep_colorectal"), item("dep_sein")))
    plan_one(outbox, recall("P002", item("vacc_grippe", cycle="saison-2025")))
    outbox.mark_sending(first, channel="mssante", now=NOW)
    # 23:30 UTC on 15 March is 00:30 on 16 March in Paris.
    late = datetime(2026, 3, 15, 23, 30, tzinfo=ZoneInfo("UTC"))
    outbox.mark_sent(first, now=late)
    assert outbox.history() == [
        PastRecall(
            "P001",
            "dep_colorectal",
            "2027-01-23",
            1,
            S.SENT,
            date(2026, 3, 16),
            date(2026, 3, 16),
        ),
        PastRecall(
            "P001",
            "dep_sein",
            "2027-01-23",
            1,
            S.SENT,
            date(2026, 3, 16),
            date(2026, 3, 16),
        ),
        PastRecall("P002", "vacc_grippe", "saison-2025", 1, S.PLANNED, None, None),
    ]


def test_history_gives_an_uncertain_message_the_day_it_was_attempted(outbox):
    """An uncertain message may have gone out on its attempt's Paris date."""
    recall_id = plan_one(outbox, recall("P001", item("dep_colorectal")))
    outbox.mark_sending(recall_id, channel="mssante", now=NOW)
    # 23:30 UTC on 16 March is 00:30 on 17 March in Paris.
    late = datetime(2026, 3, 16, 23, 30, tzinfo=ZoneInfo("UTC"))
    outbox.mark_uncertain(recall_id, reason="coupure", now=late)
    [past] = outbox.history()
    assert (past.state, past.sent_on, past.attempted_on) == (
        S.UNCERTAIN,
        None,
        date(2026, 3, 17),
    )


def test_due_lists_planned_and_failed_whose_time_came(outbox):
    """`due` holds planned messages and failed ones whose retry time is not after `now`."""
    ids = outbox.add_planned(
        [recall("P001", item("a")), recall("P001", item("b")), recall("P002")],
        now=NOW,
        message_id_domain=DOMAIN,
    )
    for recall_id in ids[:2]:
        outbox.mark_sending(recall_id, channel="mssante", now=NOW)
    later = NOW + timedelta(minutes=5)
    outbox.mark_failed(ids[0], next_attempt_at=later, error="421", now=NOW)
    outbox.mark_sent(ids[1], now=NOW)
    assert [e.id for e in outbox.due(NOW)] == [ids[2]]
    assert [e.id for e in outbox.due(later - timedelta(microseconds=1))] == [ids[2]]
    assert [e.id for e in outbox.due(later)] == [ids[0], ids[2]]


def test_entries_filter_by_state_and_counts_every_state(outbox):
    """`entries(state)` keeps that state only; `counts` names every state, zeros included."""
    ids = outbox.add_planned(
        [recall("P001"), recall("P002")], now=NOW, message_id_domain=DOMAIN
    )
    outbox.mark_dead(ids[1], reason="aucun canal", now=NOW)
    assert [e.id for e in outbox.entries(S.DEAD)] == [ids[1]]
    assert outbox.counts() == {
        "planned": 1,
        "sending": 0,
        "sent": 0,
        "failed": 0,
        "dead": 1,
        "uncertain": 0,
    }


def test_latest_pages_newest_first_and_filters_by_state(outbox):
    """`latest` gives one page, newest first, of every message or of one state."""
    ids = outbox.add_planned(
        [recall("P001", item(name)) for name in "abcde"],
        now=NOW,
        message_id_domain=DOMAIN,
    )
    outbox.mark_dead(ids[1], reason="aucun canal", now=NOW)
    outbox.mark_dead(ids[3], reason="aucun canal", now=NOW)
    assert [e.id for e in outbox.latest(limit=2)] == [ids[4], ids[3]]
    assert [e.id for e in outbox.latest(limit=2, offset=4)] == [ids[0]]
    assert [e.id for e in outbox.latest(S.DEAD, limit=10)] == [ids[3], ids[1]]
    assert outbox.latest(S.SENT, limit=10) == []
    with pytest.raises(ValueError, match="limit"):
        outbox.latest(limit=0)


def test_interrupted_lists_messages_in_sending(outbox):
    """`interrupted` gives the ids of the messages left in `sending`."""
    ids = outbox.add_planned(
        [recall("P001"), recall("P002")], now=NOW, message_id_domain=DOMAIN
    )
    outbox.mark_sending(ids[1], channel="mssante", now=NOW)
    assert outbox.interrupted() == [ids[1]]


def test_entry_repr_holds_no_indicator(outbox):
    """An entry's repr shows ids and states, not which indicators it recalls."""
    entry = outbox.get(plan_one(outbox, recall("P001", item("suivi_hba1c"))))
    assert "suivi_hba1c" not in repr(entry)
    assert "P001" in repr(entry)


# --- transitions -------------------------------------------------------------------------

Operation = Callable[[RecallOutbox, int], None]

OPERATIONS: dict[str, tuple[Operation, RecallState]] = {
    "mark_sending": (
        lambda o, i: o.mark_sending(i, channel="mssante", now=NOW),
        S.SENDING,
    ),
    "mark_sent": (lambda o, i: o.mark_sent(i, now=NOW), S.SENT),
    "mark_failed": (
        lambda o, i: o.mark_failed(i, next_attempt_at=NOW, error="421", now=NOW),
        S.FAILED,
    ),
    "mark_rejected": (
        lambda o, i: o.mark_rejected(i, channel="mssante", error="550", now=NOW),
        S.PLANNED,
    ),
    "mark_dead": (lambda o, i: o.mark_dead(i, reason="abandon", now=NOW), S.DEAD),
    "mark_uncertain": (
        lambda o, i: o.mark_uncertain(i, reason="coupure", now=NOW),
        S.UNCERTAIN,
    ),
    "retry": (lambda o, i: o.retry(i, actor="dr.a", now=NOW), S.PLANNED),
}

LEGAL = {
    "mark_sending": {S.PLANNED, S.FAILED},
    "mark_sent": {S.SENDING},
    "mark_failed": {S.SENDING},
    "mark_rejected": {S.SENDING},
    "mark_dead": {S.PLANNED, S.SENDING, S.FAILED},
    "mark_uncertain": {S.SENDING},
    "retry": {S.FAILED, S.DEAD, S.UNCERTAIN},
}

# How to bring a new (planned) message to each state, by legal transitions.
PATHS: dict[RecallState, tuple[str, ...]] = {
    S.PLANNED: (),
    S.SENDING: ("mark_sending",),
    S.SENT: ("mark_sending", "mark_sent"),
    S.FAILED: ("mark_sending", "mark_failed"),
    S.DEAD: ("mark_dead",),
    S.UNCERTAIN: ("mark_sending", "mark_uncertain"),
}


def bring_to(outbox: RecallOutbox, state: RecallState) -> int:
    recall_id = plan_one(outbox)
    for name in PATHS[state]:
        OPERATIONS[name][0](outbox, recall_id)
    assert outbox.get(recall_id).state is state
    return recall_id


@pytest.mark.parametrize(
    ("name", "source"),
    [(name, source) for name in OPERATIONS for source in sorted(LEGAL[name])],
)
def test_legal_transition_moves_state_and_is_audited(outbox, store_path, name, source):
    """Each legal transition reaches its state and appends one audit entry with ids and states."""
    recall_id = bring_to(outbox, source)
    before = len(audit_entries(store_path))
    operation, target = OPERATIONS[name]
    operation(outbox, recall_id)
    assert outbox.get(recall_id).state is target
    entries = audit_entries(store_path)
    assert len(entries) == before + 1
    _, action, target_patient, detail = entries[-1]
    assert action.startswith("recall.")
    assert target_patient == "P001"
    assert detail.startswith(f"recall_id={recall_id} from={source} to={target}")


@pytest.mark.parametrize(
    ("name", "source"),
    [
        (name, source)
        for name in OPERATIONS
        for source in sorted(set(RecallState) - LEGAL[name])
    ],
)
def test_illegal_transition_raises_and_changes_nothing(
    outbox, store_path, name, source
):
    """An illegal transition raises RecallStateError naming the id and both states."""
    recall_id = bring_to(outbox, source)
    before_entry = outbox.get(recall_id)
    before_audit = audit_entries(store_path)
    operation, target = OPERATIONS[name]
    with pytest.raises(RecallStateError) as caught:
        operation(outbox, recall_id)
    error = caught.value
    assert (error.recall_id, error.current, error.target) == (recall_id, source, target)
    assert f"n° {recall_id}" in str(error)
    assert f"« {source} »" in str(error)
    assert f"« {target} »" in str(error)
    assert outbox.get(recall_id) == before_entry
    assert audit_entries(store_path) == before_audit


def test_transition_of_unknown_recall_raises_store_error(outbox):
    """A transition on an id that names no message raises StoreError naming it."""
    with pytest.raises(StoreError, match="42"):
        outbox.mark_sending(42, channel="mssante", now=NOW)


def test_transition_inside_an_open_transaction_is_refused(store, outbox):
    """A transition must commit on its own, so it refuses to join a caller's transaction."""
    recall_id = plan_one(outbox)
    with pytest.raises(StoreError), store.transaction():
        outbox.mark_sending(recall_id, channel="mssante", now=NOW)
    assert outbox.get(recall_id).state is S.PLANNED


def test_mark_sending_counts_attempts_and_records_the_channel(outbox):
    """Each sending counts one attempt, returned, and records the channel tried."""
    recall_id = plan_one(outbox)
    assert outbox.mark_sending(recall_id, channel="fichier", now=NOW) == 1
    outbox.mark_failed(recall_id, next_attempt_at=NOW, error="421", now=NOW)
    assert outbox.mark_sending(recall_id, channel="mssante", now=NOW) == 2
    entry = outbox.get(recall_id)
    assert (entry.attempts, entry.channel) == (2, "mssante")


def test_failure_records_retry_time_and_reason(outbox):
    """A temporary failure keeps its retry time and its reason."""
    recall_id = bring_to(outbox, S.SENDING)
    later = NOW + timedelta(minutes=10)
    outbox.mark_failed(recall_id, next_attempt_at=later, error="421 occupé", now=NOW)
    entry = outbox.get(recall_id)
    assert entry.next_attempt_at == later
    assert entry.last_error == "421 occupé"


def test_rejected_channels_are_remembered_until_a_retry(outbox):
    """Rejecting channels accumulate on the message; a manual retry forgets them."""
    recall_id = plan_one(outbox)
    for channel in ("mssante", "sms"):
        outbox.mark_sending(recall_id, channel=channel, now=NOW)
        outbox.mark_rejected(recall_id, channel=channel, error="550", now=NOW)
    assert outbox.get(recall_id).rejected_channels == ("mssante", "sms")
    outbox.mark_dead(recall_id, reason="aucun canal", now=NOW)
    outbox.retry(recall_id, actor="dr.a", now=NOW)
    assert outbox.get(recall_id).rejected_channels == ()


def test_sent_records_the_sending_time(outbox):
    """`mark_sent` stamps the message with the time the channel accepted it."""
    recall_id = bring_to(outbox, S.SENDING)
    outbox.mark_sent(recall_id, now=NOW + timedelta(seconds=3))
    assert outbox.get(recall_id).sent_at == NOW + timedelta(seconds=3)


def test_retry_keeps_attempts_and_audits_the_actor(outbox, store_path):
    """A manual retry brings the message back to planned, attempts kept, audited as its actor."""
    recall_id = bring_to(outbox, S.UNCERTAIN)
    outbox.retry(recall_id, actor="cli:dr.a", now=NOW)
    entry = outbox.get(recall_id)
    assert (entry.state, entry.attempts) == (S.PLANNED, 1)
    assert audit_entries(store_path)[-1] == (
        "cli:dr.a",
        "recall.retry",
        "P001",
        f"recall_id={recall_id} from=uncertain to=planned",
    )


def test_automatic_transitions_are_audited_as_the_service(outbox, store_path):
    """Planning and delivery transitions name the service as their actor."""
    recall_id = bring_to(outbox, S.SENDING)
    actors = {actor for actor, action, *_ in audit_entries(store_path)[-2:]}
    assert actors == {SYSTEM_ACTOR}
    assert audit_entries(store_path)[-1][3] == (
        f"recall_id={recall_id} from=planned to=sending channel=mssante"
    )


def test_audit_holds_no_recall_content_and_chain_verifies(store, outbox, store_path):
    """After every kind of transition the audit names no indicator and its chain verifies."""
    recall_id = plan_one(outbox, recall("P001", item("suivi_hba1c")))
    for name in ("mark_sending", "mark_rejected", "mark_sending", "mark_failed"):
        OPERATIONS[name][0](outbox, recall_id)
    for name in ("mark_dead", "retry", "mark_sending", "mark_uncertain"):
        OPERATIONS[name][0](outbox, recall_id)
    text = repr(audit_entries(store_path))
    assert "suivi_hba1c" not in text
    assert "Libellé" not in text
    report = store.verify_audit()
    assert report.ok
    assert report.entries == len(audit_entries(store_path))
