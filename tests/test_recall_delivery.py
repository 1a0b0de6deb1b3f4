"""Tests of recall delivery: channels, retries, and at-most-once sending across crashes.

The store is a real SQLite file; the channels are small vendor-like classes implementing the
RecallChannel protocol (the one fake allowed: a channel is the outer edge).
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import raw
from recall_data import (
    ACTOR,
    PRACTICE,
    SURNAME,
    due_item,
    planned_recall,
    roster_patient,
    roster_store,
)

from fmt_plugin.errors import (
    ChannelError,
    PermanentChannelError,
    TemporaryChannelError,
    UncertainDeliveryError,
)
from fmt_plugin.model import Patient, RecallChannel
from fmt_plugin.recalls.delivery import (
    DeliveryReport,
    RetryPolicy,
    deliver_due,
    recover_interrupted,
)
from fmt_plugin.recalls.model import Audience, RecallMessage, RecallState
from fmt_plugin.storage import KeyRing, Store

DOMAIN = "cabinet.mssante.fr"
PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 3, 16, 9, 0, tzinfo=PARIS)
POLICY = RetryPolicy()
TEST_TIMEOUT_S = 30
S = RecallState


class Channel:
    """A vendor channel: answers each send with the next scripted error, or accepts it."""

    def __init__(
        self,
        name: str = "mssante",
        script: Sequence[BaseException | None] = (),
        *,
        reaches: bool = True,
    ) -> None:
        self.name = name
        self.script = list(script)
        self.reaches = reaches
        self.handed: list[RecallMessage] = []  # every message send was called with
        self.accepted: list[RecallMessage] = []

    def can_reach(self, patient: Patient) -> bool:
        return self.reaches and patient.mssante is not None

    async def send(self, message: RecallMessage) -> None:
        self.handed.append(message)
        answer = self.script.pop(0) if self.script else None
        if answer is not None:
            raise answer
        self.accepted.append(message)


def temporary(channel: str = "mssante") -> TemporaryChannelError:
    return TemporaryChannelError(channel, "serveur occupé", code=421)


def permanent(channel: str = "mssante") -> PermanentChannelError:
    return PermanentChannelError(channel, "boîte inconnue", code=550)


ITEM = due_item()


@pytest.fixture
def store(store_path: Path, keyring: KeyRing) -> Iterator[Store]:
    with roster_store(store_path, keyring, "P001", "P002") as opened:
        yield opened


def plan(store: Store, *patient_ids: str) -> list[int]:
    recalls = [planned_recall(pid, ITEM) for pid in patient_ids or ("P001",)]
    return store.outbox.add_planned(recalls, now=NOW, message_id_domain=DOMAIN)


def run(coro):
    """Run a coroutine to completion, bounded so a hang fails the test."""

    async def bounded():
        async with asyncio.timeout(TEST_TIMEOUT_S):
            return await coro

    return asyncio.run(bounded())


def deliver(
    store: Store,
    *channels: RecallChannel,
    now: datetime = NOW,
    retry: RetryPolicy = POLICY,
) -> DeliveryReport:
    return run(deliver_due(store, channels, PRACTICE, now=now, retry=retry))


def state(store: Store, recall_id: int) -> RecallState:
    return store.outbox.get(recall_id).state


# --- success -----------------------------------------------------------------------------


def test_success_sends_once_and_records_sent(store):
    """A due message is handed over once, recorded sent, and not sent again by a later run."""
    (recall_id,) = plan(store)
    channel = Channel()
    first = deliver(store, channel)
    second = deliver(store, channel, now=NOW + timedelta(hours=1))
    assert len(channel.handed) == 1
    assert first == DeliveryReport(sent=1)
    assert second == DeliveryReport()
    entry = store.outbox.get(recall_id)
    assert (entry.state, entry.sent_at, entry.attempts) == (S.SENT, NOW, 1)


def test_message_carries_the_recall_patient_and_practice(store):
    """The channel gets the outbox id, Message-ID, patient, audience, items and practice."""
    (recall_id,) = plan(store)
    channel = Channel()
    deliver(store, channel)
    (message,) = channel.accepted
    entry = store.outbox.get(recall_id)
    assert message.recall_id == recall_id
    assert message.message_id == entry.message_id
    assert message.patient == store.get_patient("P001")
    assert (message.audience, message.items) == (Audience.PATIENT, (ITEM,))
    assert message.practice == PRACTICE
    assert message.created_at == NOW


def test_report_counts_each_outcome(store):
    """The report counts sent, failed, dead and uncertain messages of the run."""
    plan(store, "P001", "P002")
    channel = Channel(script=[None, temporary()])
    report = deliver(store, channel)
    assert report == DeliveryReport(sent=1, failed=1)
    assert report.total == 2


# --- temporary failures ------------------------------------------------------------------


def test_temporary_failure_is_retried_after_backoff_then_sent_once(store):
    """A 4xx leaves the message failed until its retry time; then it is sent once, attempt 2."""
    (recall_id,) = plan(store)
    channel = Channel(script=[temporary()])
    assert deliver(store, channel) == DeliveryReport(failed=1)
    entry = store.outbox.get(recall_id)
    assert entry.state is S.FAILED
    assert entry.next_attempt_at == NOW + timedelta(seconds=POLICY.base_delay_s)
    assert "421" in entry.last_error
    early = NOW + timedelta(seconds=POLICY.base_delay_s - 1)
    assert deliver(store, channel, now=early) == DeliveryReport()
    on_time = NOW + timedelta(seconds=POLICY.base_delay_s)
    assert deliver(store, channel, now=on_time) == DeliveryReport(sent=1)
    assert len(channel.accepted) == 1
    entry = store.outbox.get(recall_id)
    assert (entry.state, entry.attempts) == (S.SENT, 2)


def test_backoff_doubles_from_the_base_up_to_the_cap():
    """The delay after attempt n is base·2^(n-1), never more than the cap."""
    policy = RetryPolicy(base_delay_s=300, max_delay_s=3600, max_attempts=10)
    delays = [policy.delay(n).total_seconds() for n in range(1, 7)]
    assert delays == [300, 600, 1200, 2400, 3600, 3600]
    assert policy.delay(10_000) == timedelta(seconds=3600)


def test_retry_policy_refuses_nonsense():
    """A non-positive base, a cap below the base or no attempt at all raise ValueError."""
    for values in ({"base_delay_s": 0}, {"max_delay_s": 1}, {"max_attempts": 0}):
        with pytest.raises(ValueError, match=r"retry|max_attempts"):
            RetryPolicy(**values)


def test_max_attempts_reached_makes_the_message_dead(store):
    """A message whose last allowed attempt fails temporarily is dead, with the reason."""
    (recall_id,) = plan(store)
    policy = RetryPolicy(base_delay_s=60, max_delay_s=60, max_attempts=2)
    channel = Channel(script=[temporary(), temporary()])
    deliver(store, channel, retry=policy)
    report = deliver(store, channel, now=NOW + timedelta(minutes=1), retry=policy)
    assert report == DeliveryReport(dead=1)
    entry = store.outbox.get(recall_id)
    assert (entry.state, entry.attempts) == (S.DEAD, 2)
    assert "2 tentatives" in entry.last_error
    assert deliver(store, channel, now=NOW + timedelta(days=1)) == DeliveryReport()


# --- permanent failures and channel choice -----------------------------------------------


def test_permanent_failure_moves_to_the_next_channel_in_the_same_run(store):
    """A 5xx on the first channel hands the message to the second one, which sends it."""
    (recall_id,) = plan(store)
    first = Channel("mssante", [permanent()])
    second = Channel("fichier")
    assert deliver(store, first, second) == DeliveryReport(sent=1)
    assert (len(first.handed), len(second.accepted)) == (1, 1)
    entry = store.outbox.get(recall_id)
    assert (entry.state, entry.channel, entry.attempts) == (S.SENT, "fichier", 2)
    assert entry.rejected_channels == ("mssante",)


def test_rejecting_channel_is_not_tried_again_for_that_message(store):
    """After a rejection then a temporary failure, the retry skips the rejecting channel."""
    (recall_id,) = plan(store)
    first = Channel("mssante", [permanent()])
    second = Channel("fichier", [temporary("fichier")])
    deliver(store, first, second)
    assert state(store, recall_id) is S.FAILED
    deliver(store, first, second, now=NOW + timedelta(hours=1))
    assert (len(first.handed), len(second.accepted)) == (1, 1)
    assert state(store, recall_id) is S.SENT


def test_permanent_failure_everywhere_makes_the_message_dead(store):
    """When every reachable channel rejects it, the message is dead with the last rejection."""
    (recall_id,) = plan(store)
    channels = [Channel("mssante", [permanent()]), Channel("sms", [permanent("sms")])]
    assert deliver(store, *channels) == DeliveryReport(dead=1)
    entry = store.outbox.get(recall_id)
    assert entry.state is S.DEAD
    assert "aucun canal" in entry.last_error
    assert "sms" in entry.last_error
    assert entry.rejected_channels == ("mssante", "sms")


def test_channel_that_cannot_reach_is_skipped(store):
    """A channel without an address for the patient is skipped for the next one."""
    (recall_id,) = plan(store)
    unreachable = Channel("sms", reaches=False)
    mssante = Channel("mssante")
    deliver(store, unreachable, mssante)
    assert (len(unreachable.handed), len(mssante.accepted)) == (0, 1)
    assert store.outbox.get(recall_id).channel == "mssante"


def test_no_channel_reaching_the_patient_makes_the_message_dead(store):
    """When no channel can reach the patient the message is dead and nothing is handed over."""
    (recall_id,) = plan(store)
    channel = Channel(reaches=False)
    assert deliver(store, channel) == DeliveryReport(dead=1)
    entry = store.outbox.get(recall_id)
    assert (entry.state, entry.attempts) == (S.DEAD, 0)
    assert "aucun canal" in entry.last_error
    assert channel.handed == []


def test_vendor_channel_error_is_handled_by_its_flags(store):
    """A vendor's own ChannelError subclass is handled as what its flags say (temporary)."""

    class Busy(ChannelError):
        temporary = True

    (recall_id,) = plan(store)
    deliver(store, Channel(script=[Busy("sms", "quota")]))
    assert state(store, recall_id) is S.FAILED


# --- patients ----------------------------------------------------------------------------


def test_inactive_patient_makes_the_message_dead(store):
    """A patient who left the roster since planning gets nothing; the message is dead."""
    (recall_id,) = plan(store, "P002")
    store.sync_roster([roster_patient("P001")], actor=ACTOR)
    channel = Channel()
    assert deliver(store, channel) == DeliveryReport(dead=1)
    assert channel.handed == []
    assert "patient" in store.outbox.get(recall_id).last_error


def test_patient_in_opposition_since_planning_gets_nothing(store):
    """A patient who opposed recalls after planning gets nothing; the message is dead."""
    (recall_id,) = plan(store)
    store.sync_roster(
        [roster_patient("P001", opposition=True), roster_patient("P002")], actor=ACTOR
    )
    channel = Channel()
    deliver(store, channel)
    assert channel.handed == []
    assert state(store, recall_id) is S.DEAD


# --- uncertain outcomes and crashes ------------------------------------------------------


def test_uncertain_delivery_is_never_resent_automatically(store):
    """A message whose hand-over may have succeeded is uncertain and later runs skip it."""
    (recall_id,) = plan(store)
    lost = UncertainDeliveryError("mssante", "connexion coupée après DATA")
    channel = Channel(script=[lost])
    assert deliver(store, channel) == DeliveryReport(uncertain=1)
    assert deliver(store, channel, now=NOW + timedelta(days=2)) == DeliveryReport()
    assert len(channel.handed) == 1
    assert state(store, recall_id) is S.UNCERTAIN


def test_unexpected_channel_exception_is_uncertain_and_logged_by_type(store, caplog):
    """Any other exception from send is uncertain; the log names its type, no patient data."""
    caplog.set_level(logging.DEBUG, logger="fmt_plugin")
    (recall_id,) = plan(store)
    channel = Channel(script=[KeyError(f"{SURNAME}P001")])
    assert deliver(store, channel) == DeliveryReport(uncertain=1)
    assert state(store, recall_id) is S.UNCERTAIN
    assert "KeyError" in store.outbox.get(recall_id).last_error
    assert "KeyError" in caplog.text
    assert SURNAME not in caplog.text


def test_interrupt_during_send_marks_uncertain_and_propagates(store):
    """An exit raised while the message is handed over propagates; the message is uncertain."""
    (recall_id,) = plan(store)
    channel = Channel(script=[SystemExit(3)])
    with pytest.raises(SystemExit):
        deliver(store, channel)
    assert state(store, recall_id) is S.UNCERTAIN
    assert deliver(store, Channel()) == DeliveryReport()


def test_recover_interrupted_turns_sending_into_uncertain(store_path, keyring):
    """A message left in sending by a crash is uncertain after recovery and never re-sent."""
    with roster_store(store_path, keyring, "P001") as crashed:
        (recall_id,) = plan(crashed)
        crashed.outbox.mark_sending(recall_id, channel="mssante", now=NOW)
    with Store.open(store_path, keyring) as restarted:
        assert recover_interrupted(restarted, now=NOW) == [recall_id]
        assert state(restarted, recall_id) is S.UNCERTAIN
        channel = Channel()
        assert deliver(restarted, channel) == DeliveryReport()
        assert channel.handed == []
        assert recover_interrupted(restarted, now=NOW) == []


def test_manual_retry_of_an_uncertain_message_delivers_it(store):
    """After a person retries an uncertain message, the next run sends it once."""
    (recall_id,) = plan(store)
    deliver(store, Channel(script=[UncertainDeliveryError("mssante", "coupure")]))
    store.outbox.retry(recall_id, actor="cli:dr.a", now=NOW)
    channel = Channel()
    assert deliver(store, channel) == DeliveryReport(sent=1)
    assert len(channel.accepted) == 1
    entry = store.outbox.get(recall_id)
    assert (entry.state, entry.attempts) == (S.SENT, 2)


def test_message_taken_by_another_run_is_skipped(store, store_path, keyring):
    """A message another process took after this run listed it is skipped, not sent twice."""
    first_id, second_id = plan(store, "P001", "P002")

    class Racing(Channel):
        async def send(self, message: RecallMessage) -> None:
            if message.recall_id == first_id:
                # Another service instance, on its own connection, takes the second one.
                with Store.open(store_path, keyring) as other:
                    other.outbox.mark_sending(second_id, channel="sms", now=NOW)
            await super().send(message)

    channel = Racing()
    assert deliver(store, channel) == DeliveryReport(sent=1, skipped=1)
    assert [m.recall_id for m in channel.handed] == [first_id]
    assert state(store, second_id) is S.SENDING


SCRIPT = """
import asyncio, os, sys
from datetime import datetime
from pathlib import Path

from fmt_plugin.recalls.delivery import RetryPolicy, deliver_due
from fmt_plugin.recalls.model import PracticeContact
from fmt_plugin.storage import Store, load_key_file


class DyingChannel:
    name = "mssante"

    def can_reach(self, patient):
        return True

    async def send(self, message):
        # The server has the message now; the process dies before recording it.
        with open(sys.argv[3], "a", encoding="utf-8") as marker:
            marker.write(f"{message.recall_id}\\n")
            marker.flush()
            os.fsync(marker.fileno())
        os._exit(9)


store = Store.open(Path(sys.argv[1]), load_key_file(Path(sys.argv[2])))
now = datetime.fromisoformat(sys.argv[4])
practice = PracticeContact("Cabinet")
asyncio.run(deliver_due(store, [DyingChannel()], practice, now=now, retry=RetryPolicy()))
"""


def test_process_killed_after_hand_over_is_uncertain_and_not_resent(
    tmp_path, store_path, keyring
):
    """A process dying between hand-over and record leaves an uncertain message, sent once."""
    with roster_store(store_path, keyring, "P001") as created:
        (recall_id,) = plan(created)
    script = tmp_path / "deliver_and_die.py"
    script.write_text(SCRIPT, encoding="utf-8")
    marker = tmp_path / "handed_over.txt"
    completed = subprocess.run(
        [
            sys.executable,
            script,
            store_path,
            tmp_path / "keys.json",
            marker,
            NOW.isoformat(),
        ],
        capture_output=True,
        text=True,
        timeout=TEST_TIMEOUT_S,
        check=False,
    )
    assert completed.returncode == 9, completed.stderr
    with Store.open(store_path, keyring) as restarted:
        assert state(restarted, recall_id) is S.SENDING
        assert recover_interrupted(restarted, now=NOW) == [recall_id]
        assert state(restarted, recall_id) is S.UNCERTAIN
        channel = Channel()
        assert deliver(restarted, channel, now=NOW + timedelta(days=1)) == (
            DeliveryReport()
        )
        assert channel.handed == []
        assert restarted.verify_audit().ok
    assert marker.read_text(encoding="utf-8") == f"{recall_id}\n"


# --- audit and logs ----------------------------------------------------------------------


def test_delivery_is_audited_and_the_chain_verifies(store, store_path):
    """Each transition of a run is in the audit, whose chain still verifies."""
    first, second = plan(store, "P001", "P002")
    channels = [Channel("mssante", [permanent(), None]), Channel("fichier")]
    deliver(store, *channels)
    with raw(store_path) as conn:
        rows = conn.execute(
            "SELECT action, detail FROM audit_log"
            " WHERE action LIKE 'recall.%' AND action != 'recall.plan' ORDER BY seq"
        ).fetchall()
    assert [(action, detail.split(" channel=")[0]) for action, detail in rows] == [
        ("recall.sending", f"recall_id={first} from=planned to=sending"),
        ("recall.rejected", f"recall_id={first} from=sending to=planned"),
        ("recall.sending", f"recall_id={first} from=planned to=sending"),
        ("recall.sent", f"recall_id={first} from=sending to=sent"),
        ("recall.sending", f"recall_id={second} from=planned to=sending"),
        ("recall.sent", f"recall_id={second} from=sending to=sent"),
    ]
    assert store.verify_audit().ok


def test_logs_one_line_per_transition_with_id_and_state_only(store, caplog):
    """Delivery logs each transition as its outbox id and state, and no patient data."""
    caplog.set_level(logging.INFO, logger="fmt_plugin")
    (recall_id,) = plan(store)
    caplog.clear()
    deliver(store, Channel("mssante", [permanent()]), Channel("fichier"))
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        f"recall {recall_id}: sending",
        f"recall {recall_id}: planned",
        f"recall {recall_id}: sending",
        f"recall {recall_id}: sent",
    ]
    for secret in (SURNAME, "Philomène", "p001@patient", "dep_colorectal"):
        assert secret not in caplog.text


# --- shutdown ----------------------------------------------------------------------------


class StoppingChannel(Channel):
    """Accepts each message and asks the run to stop, as a SIGTERM during a send would."""

    def __init__(self, stop: threading.Event) -> None:
        super().__init__()
        self.stop = stop

    async def send(self, message: RecallMessage) -> None:
        self.stop.set()
        await super().send(message)


def test_a_stop_during_a_send_finishes_that_message_and_leaves_the_rest(store):
    """Stop requested mid-run: the message being sent is recorded sent, the next stays planned."""
    first, second = plan(store, "P001", "P002")
    stop = threading.Event()
    channel = StoppingChannel(stop)
    report = run(
        deliver_due(store, [channel], PRACTICE, now=NOW, retry=POLICY, stop=stop)
    )
    assert report == DeliveryReport(sent=1)
    assert [state(store, first), state(store, second)] == [S.SENT, S.PLANNED]


def test_a_stop_already_requested_hands_nothing_over(store):
    """A run that starts after the stop was requested sends nothing."""
    (recall_id,) = plan(store)
    stop = threading.Event()
    stop.set()
    channel = Channel()
    report = run(
        deliver_due(store, [channel], PRACTICE, now=NOW, retry=POLICY, stop=stop)
    )
    assert (report, channel.handed) == (DeliveryReport(), [])
    assert state(store, recall_id) == S.PLANNED
