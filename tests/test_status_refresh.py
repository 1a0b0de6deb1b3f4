"""Statuses kept current in the background after each committed message, without delaying ACKs."""

from __future__ import annotations

import asyncio
import importlib
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from conftest import PUBLIC_SCENARIO
from test_service import send_mllp, serve_during

from fmt_plugin.evaluation import evaluate_practice, select_rule_pack
from fmt_plugin.ingest import Incoming
from fmt_plugin.installation import open_installation
from fmt_plugin.service import ServiceReady, installation_ingestor
from fmt_plugin.status_refresh import StatusRefresher
from fmt_plugin.timezone import today_in_paris

AS_OF = date(2026, 3, 15)
RECORDER = """
import threading

from fmt_plugin.hooks import hookimpl

CHANGES = []
CHANGED = threading.Condition()


@hookimpl
def fmt_status_changed(change):
    with CHANGED:
        CHANGES.append(change)
        CHANGED.notify_all()


def wait_until(condition, timeout):
    # True once condition(changes told so far) holds (False after timeout s).
    with CHANGED:
        return CHANGED.wait_for(lambda: condition(CHANGES), timeout)
"""


@pytest.fixture
def recorder(scenario_config: Path, tmp_path: Path, monkeypatch):
    """An adapter recording `fmt_status_changed`, loaded by the installation's plugins."""
    folder = tmp_path / "adapters"
    folder.mkdir()
    (folder / "status_recorder.py").write_text(RECORDER, encoding="utf-8")
    monkeypatch.syspath_prepend(str(folder))
    text = scenario_config.read_text(encoding="utf-8")
    scenario_config.write_text(
        text.replace("modules = []", 'modules = ["status_recorder"]'), encoding="utf-8"
    )
    module = importlib.import_module("status_recorder")
    yield module
    sys.modules.pop("status_recorder", None)


def ingest(config: Path, name: str) -> None:
    """Commit one message of the public scenario through the pipeline the listener uses."""
    raw = (PUBLIC_SCENARIO / "messages" / name).read_bytes()
    with open_installation(config) as installation:
        installation_ingestor(installation).ingest(
            [Incoming(raw, "import")], acknowledge=False
        )


def test_a_committed_result_updates_the_patients_status_and_tells_the_adapters(
    scenario_config, recorder
):
    """An HbA1c for Q06: suivi_hba1c goes from à vérifier to fait, remembered and notified."""

    async def main() -> None:
        refresher = StatusRefresher(scenario_config, delay_s=0, today=lambda: AS_OF)
        await refresher.start()
        try:
            refresher.notify(["Q06"])  # the patient as he was: the baseline
            await refresher.idle()
            recorder.CHANGES.clear()
            ingest(scenario_config, "q06_hba1c.hl7")
            refresher.notify(["Q06"])
            await refresher.idle()
        finally:
            await refresher.stop()

    asyncio.run(main())
    changes = [
        (c.patient_id, c.indicator, c.old_status, c.new_status)
        for c in recorder.CHANGES
    ]
    assert changes == [("Q06", "suivi_hba1c", "a_verifier", "fait")]
    with open_installation(scenario_config) as installation:
        assert installation.store.statuses.all()["Q06"]["suivi_hba1c"].status == "fait"


def test_a_burst_of_messages_is_evaluated_once(scenario_config):
    """Patients notified close together are evaluated in one run, each once."""

    async def main() -> StatusRefresher:
        refresher = StatusRefresher(scenario_config, delay_s=0.2, today=lambda: AS_OF)
        await refresher.start()
        try:
            await refresher.idle()  # the start-up catch-up of the whole roster
            before = (refresher.runs, refresher.refreshed)
            for patient_id in ("Q05", "Q06", "Q07", "Q06"):
                refresher.notify([patient_id])
            await refresher.idle()
        finally:
            await refresher.stop()
        return before, (refresher.runs, refresher.refreshed)

    (runs, refreshed), after = asyncio.run(main())
    assert after == (runs + 1, refreshed + 3)


def test_no_evaluation_runs_while_the_listener_is_committing(scenario_config):
    """Each time the refresher asks, it sees no run of its own until the listener pauses."""
    runs_seen: list[int] = []

    async def main() -> StatusRefresher:
        refresher = StatusRefresher(
            scenario_config, delay_s=0, today=lambda: AS_OF, max_defer_s=600
        )

        def busy() -> bool:
            runs_seen.append(refresher.runs)
            return len(runs_seen) <= 3  # messages flow for three looks, then pause

        refresher.defer_while(busy)
        await refresher.start()
        try:
            await refresher.idle()
        finally:
            await refresher.stop()
        return refresher

    refresher = asyncio.run(main())
    assert runs_seen[:4] == [0, 0, 0, 0]  # deferred three times, then run
    assert refresher.runs >= 1


def test_a_steady_flow_of_messages_defers_an_evaluation_only_so_long(scenario_config):
    """Under messages that never pause, the statuses are still brought up to date."""

    async def main() -> StatusRefresher:
        refresher = StatusRefresher(
            scenario_config, delay_s=0, today=lambda: AS_OF, max_defer_s=0.2
        )
        refresher.defer_while(lambda: True)
        await refresher.start()
        try:
            await refresher.idle()
        finally:
            await refresher.stop()
        return refresher

    assert asyncio.run(main()).runs >= 1


def test_stop_evaluates_what_is_still_pending(scenario_config):
    """Stopping right after a notification still records that patient's statuses."""

    async def main() -> None:
        refresher = StatusRefresher(scenario_config, delay_s=60, today=lambda: AS_OF)
        await refresher.start()
        refresher.notify(["Q07"])
        await refresher.stop()

    asyncio.run(main())
    with open_installation(scenario_config) as installation:
        assert "Q07" in installation.store.statuses.all()


def test_the_service_notifies_a_status_change_seconds_after_the_ack(
    scenario_config, recorder
):
    """Over MLLP: the ACK first, then `fmt_status_changed` for that patient, not at night."""

    with open_installation(scenario_config) as installation:
        pack = select_rule_pack(installation.config, installation.pm)
        practice = evaluate_practice(
            installation.store, installation.pm, pack, today_in_paris()
        )
    concerned = {e.patient_id for e in practice.evaluations if e.statuses}

    def everyone_told(changes) -> bool:
        return {c.patient_id for c in changes} == concerned

    async def scenario(ready: ServiceReady) -> None:
        # The start-up catch-up tells every first status; then only the message's news.
        assert await asyncio.to_thread(recorder.wait_until, everyone_told, 30)
        recorder.CHANGES.clear()
        raw = (PUBLIC_SCENARIO / "messages" / "q06_hba1c.hl7").read_bytes()
        (answer,) = await send_mllp(ready, [raw])
        assert b"MSA|CA" in answer  # commit accept (the lab asks for enhanced mode)
        assert await asyncio.to_thread(recorder.wait_until, bool, 30)

    serve_during(scenario_config, scenario)
    assert {c.patient_id for c in recorder.CHANGES} == {"Q06"}


def test_start_and_a_new_day_re_evaluate_the_patients_not_evaluated_that_day(
    scenario_config,
):
    """A fresh roster is evaluated at start; the next day, everyone again (due dates pass)."""
    days = [AS_OF]

    async def main() -> list[int]:
        refresher = StatusRefresher(scenario_config, delay_s=0, today=lambda: days[0])
        await refresher.start()
        try:
            await refresher.idle()
            counts = [refresher.refreshed]
            refresher.check_date()  # the same day: nothing to do
            await refresher.idle()
            counts.append(refresher.refreshed)
            days[0] = date(2026, 3, 16)
            refresher.check_date()
            await refresher.idle()
            counts.append(refresher.refreshed)
        finally:
            await refresher.stop()
        return counts

    with open_installation(scenario_config) as installation:
        patients = len(installation.store.patient_ids())
    assert asyncio.run(main()) == [patients, patients, 2 * patients]
    with open_installation(scenario_config) as installation:
        days_seen = set(installation.store.statuses.evaluated_on().values())
    assert days_seen == {date(2026, 3, 16)}


def test_three_weeks_of_days_re_evaluate_everyone_once_a_day(scenario_config):
    """Over 21 simulated days (21 March to 10 April 2026: a month end and the spring clock
    change), each new day re-evaluates every patient once; a second look that day, nothing."""
    days = [date(2026, 3, 20)]

    async def main() -> list[int]:
        refresher = StatusRefresher(scenario_config, delay_s=0, today=lambda: days[0])
        await refresher.start()
        counts = []
        try:
            await refresher.idle()
            for _ in range(21):
                days[0] += timedelta(days=1)
                for _look in range(2):
                    refresher.check_date()
                    await refresher.idle()
                counts.append(refresher.refreshed)
        finally:
            await refresher.stop()
        return counts

    with open_installation(scenario_config) as installation:
        patients = len(installation.store.patient_ids())
    counts = asyncio.run(main())
    assert counts == [patients * (day + 2) for day in range(21)]
    with open_installation(scenario_config) as installation:
        assert set(installation.store.statuses.evaluated_on().values()) == {days[0]}
