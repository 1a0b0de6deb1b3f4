"""The demo, start to end: installation, roster, service, HL7 replay, recalls, summary, serving.

1. Create the installation in DIR with the `demo` adapter, or reuse the one there.
2. Sync the synthetic roster into the store.
3. Start the service in this process (MLLP, recall jobs, status page).
4. Send the practice's lab reports and vaccinations to it over MLLP; it ACKs each after commit.
5. Plan, queue and deliver the recalls (`recalls run`), into the file outbox.
6. Print the summary, then serve until Ctrl-C (or stop at once with `--once`).

Running it again is harmless: the messages are byte-identical, so the store keeps them once,
and the outbox never writes a recall twice. The store is used from one thread of its own
(SQLite connections stay in their thread); the service opens its own, as it always does.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import logging
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Any, Self, TextIO, TypeVar

from fmt_plugin.adapters.demo import NAME as ADAPTER_NAME
from fmt_plugin.adapters.demo import DemoAdapter, config_block
from fmt_plugin.config import FmtConfig, load_config
from fmt_plugin.demo.accounts import DemoLogin, demo_logins
from fmt_plugin.demo.backfill import backfill_rate_history
from fmt_plugin.demo.hl7_messages import history_messages
from fmt_plugin.demo.practice import DemoPractice, DemoSettings
from fmt_plugin.demo.sender import SendReport, send_messages
from fmt_plugin.errors import ConfigError
from fmt_plugin.evaluation import (
    PracticeEvaluation,
)
from fmt_plugin.gc_tuning import tuned_for_throughput
from fmt_plugin.installation import Installation, open_installation
from fmt_plugin.installation_lock import InstallationLock
from fmt_plugin.logs import configure_logging
from fmt_plugin.recalls import runner
from fmt_plugin.recalls.delivery import DeliveryReport
from fmt_plugin.recalls.file_channel import FileChannel
from fmt_plugin.roster import collect_roster
from fmt_plugin.scaffold import CONFIG_NAME, InitOptions, init_installation
from fmt_plugin.service import ServiceReady, run_service, stop_on_signals
from fmt_plugin.status_tracking import track_status_changes
from fmt_plugin.storage.store import SyncSummary
from fmt_plugin.timezone import PARIS
from fmt_plugin.views import demo_summary
from fmt_plugin.views.progress import Progress

DEFAULT_DIRECTORY = Path("demo-fmt")
#: In the range ARCEP reserves for fiction (01 99 00 xx xx): nobody can be called by mistake.
PRACTICE_PHONE = "01 99 00 00 00"
PRACTICE_NAME = "Cabinet de démonstration"
PRACTICE_DOCTOR = "Dr Camille Exemple"
#: A fictitious street: the letters' letterhead shows where a practice's address goes.
PRACTICE_ADDRESS = ("1 rue de la Démonstration", "75011 Paris")
PRACTICE_CITY = "Paris"
#: Concurrent MLLP connections of the replay: a few labs and pharmacies sending at once.
SENDERS = 8

T = TypeVar("T")


@dataclass(frozen=True)
class DemoOptions:
    """What `fmt-plugin demo` was asked for."""

    directory: Path
    as_of: date
    once: bool = False
    mllp_port: int | None = None
    http_port: int | None = None
    #: Log at the configured level instead of warnings only.
    verbose: bool = False


@dataclass(frozen=True)
class Prepared:
    """The installation's state before the replay: roster synced, messages ready."""

    practice: DemoPractice
    sync: SyncSummary
    roster_problems: int
    messages: list[bytes]
    inbox_before: dict[str, int]
    logins: list[DemoLogin]


@dataclass(frozen=True)
class Results:
    """What the replay and the recall run left: statuses, recalls, the inbox."""

    evaluation: PracticeEvaluation
    queued: int
    delivery: DeliveryReport
    outbox_folder: Path | None
    outbox_files: int
    inbox_after: dict[str, int]


def run_demo(
    options: DemoOptions, out: TextIO, *, actor: str, progress: TextIO | None = None
) -> None:
    """Run the demo, writing its report to `out`; returns when the service has stopped.

    The step under way is shown on `progress` while it lasts, if that is a terminal.
    Raises FmtError (ConfigError for a DIR whose installation is not a demo one,
    InstallationBusyError while a service or another demo uses it) with nothing left running.
    """
    started = time.perf_counter()
    config_path, created = prepare_installation(options.directory, options.as_of, actor)
    config = load_config(config_path)
    # Before the roster sync: a second demo (or a `serve`) on DIR must change nothing.
    with (
        InstallationLock.acquire(config.store.path, purpose="demo") as lock,
        tuned_for_throughput(),  # as `serve` and `import` do: thousands of messages
        Progress(progress or io.StringIO()) as steps,  # no stream: not shown
    ):
        _configure_logging(config, options.verbose)
        out.write(demo_summary.render_installation(config_path.parent, created))
        out.flush()
        asyncio.run(_session(config_path, options, out, actor, started, steps, lock))


def prepare_installation(directory: Path, as_of: date, actor: str) -> tuple[Path, bool]:
    """The configuration of the demo installation in `directory`, and whether it is new.

    A new one's synthetic history stops on `as_of`, for good: a later run finds the same
    patients and acts.
    """
    config_path = directory / CONFIG_NAME
    if config_path.exists():
        return config_path.absolute(), False
    options = InitOptions(
        directory=directory,
        practice_name=PRACTICE_NAME,
        practice_phone=PRACTICE_PHONE,
        doctor=PRACTICE_DOCTOR,
        address=PRACTICE_ADDRESS,
        city=PRACTICE_CITY,
        adapter_block=config_block(DemoSettings(reference_date=as_of)),
        origin=ADAPTER_NAME,
    )
    return init_installation(options, actor=actor), True


def _configure_logging(config: FmtConfig, verbose: bool) -> None:
    """Warnings only, unless asked: the demo's own lines are what the practice reads."""
    settings = config.logging
    if not verbose:
        settings = dataclasses.replace(settings, level="WARNING")
    configure_logging(settings)


class _StoreThread:
    """The demo's own installation, opened and used on one thread of its own.

    SQLite connections stay in the thread that made them, and the store's work must not
    stall the event loop that runs the service.
    """

    def __init__(self, config_path: Path) -> None:
        self._config_path = config_path
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="demo-store")
        self._installation: Installation | None = None

    async def __aenter__(self) -> Self:
        try:
            self._installation = await self._submit(
                open_installation, self._config_path
            )
        except BaseException:
            self._executor.shutdown()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._installation is not None:
            # Queued behind whatever still runs there (an interrupted step finishes first).
            await self._submit(self._installation.close)
        self._executor.shutdown()

    async def run(self, function: Callable[..., T], *args: object) -> T:
        """`function(installation, *args)` on the store's thread."""
        assert self._installation is not None  # noqa: S101 -- only used inside `async with`
        return await self._submit(function, self._installation, *args)

    def _submit(self, function: Callable[..., T], *args: object) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(self._executor, partial(function, *args))


async def _session(
    config_path: Path,
    options: DemoOptions,
    out: TextIO,
    actor: str,
    started: float,
    steps: Progress,
    lock: InstallationLock,
) -> None:
    """Sync, serve while the demo runs, then stop (`--once`) or serve until a signal.

    `lock` is the installation's, held by the demo for the service it runs. The service's
    own error, if it stops on one, is what this raises.
    """
    async with _StoreThread(config_path) as store:
        steps.step("Synchronisation de la patientèle fictive")
        prepared = await store.run(_prepare, options.as_of, actor)
        steps.clear()
        out.write(
            demo_summary.render_roster(
                prepared.practice.settings,
                len(prepared.practice.roster),
                prepared.sync,
                prepared.roster_problems,
            )
        )
        out.flush()
        await _serve(
            config_path,
            options,
            out,
            prepared.logins,
            partial(_demonstrate, store, prepared, options, out, started, steps),
            lock,
        )


async def _serve(
    config_path: Path,
    options: DemoOptions,
    out: TextIO,
    logins: list[DemoLogin],
    demonstrate: Callable[[ServiceReady], Coroutine[Any, Any, None]],
    lock: InstallationLock,
) -> None:
    """Run the service (under the demo's `lock`), and `demonstrate` against it once it listens."""
    stop = asyncio.Event()
    stop_on_signals(stop)
    ready: asyncio.Future[ServiceReady] = asyncio.get_running_loop().create_future()
    service = asyncio.create_task(
        run_service(
            config_path,
            mllp_port=options.mllp_port,
            http_port=options.http_port,
            stop=stop,
            on_ready=ready.set_result,
            lock=lock,
        )
    )
    try:
        await _first_of(ready, service, stop=stop)
        if not ready.done():
            return  # stopped before it listened: its error, if any, is raised below
        listening = ready.result()
        out.write(demo_summary.render_service(listening))
        out.flush()
        demo = asyncio.create_task(demonstrate(listening))
        await _first_of(demo, service, stop=stop)
        if not demo.done():
            demo.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await demo
            out.write(demo_summary.render_interrupted())
            return
        demo.result()
        if options.once:
            out.write(demo_summary.render_stopping())
            return
        out.write(demo_summary.render_serving(listening, logins))
        out.flush()
        await _first_of(service, stop=stop)
    finally:
        stop.set()
        await service
    out.write(demo_summary.render_stopped())


async def _first_of(*futures: asyncio.Future[Any], stop: asyncio.Event) -> None:
    """Wait until one of `futures` is done or `stop` is set."""
    stopped: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({stopped, *futures}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()


async def _demonstrate(
    store: _StoreThread,
    prepared: Prepared,
    options: DemoOptions,
    out: TextIO,
    started: float,
    steps: Progress,
    listening: ServiceReady,
) -> None:
    """Replay the practice's HL7 traffic, run the recalls, write the summary."""
    out.write(demo_summary.render_sending(len(prepared.messages)))
    out.flush()
    steps.step("Envoi des messages HL7")
    sent = await _replay(listening, prepared.messages)
    steps.step("Évaluation de la patientèle et rappels")
    results = await store.run(_recalls_and_statuses, options.as_of)
    steps.step("Historique mensuel des taux")
    # A month-end snapshot for each month of the history, so `history` shows a trend.
    await store.run(
        backfill_rate_history,
        prepared.practice.settings.reference_date,
        options.as_of,
        datetime.now(PARIS),
    )
    steps.clear()
    out.write(
        demo_summary.render_replay(sent, prepared.inbox_before, results.inbox_after)
    )
    out.write(demo_summary.render_indicators(results.evaluation))
    out.write(
        demo_summary.render_recalls(
            results.queued,
            results.delivery,
            results.outbox_folder,
            results.outbox_files,
        )
    )
    out.write(demo_summary.render_elapsed(time.perf_counter() - started))
    out.flush()


def _prepare(installation: Installation, as_of: date, actor: str) -> Prepared:
    """Sync the roster and write the messages (on the store's thread)."""
    practice = demo_practice(installation)
    roster = collect_roster(installation.pm, as_of)
    sync = installation.store.sync_roster(roster.patients, actor=actor)
    messages = history_messages(practice.hl7_records(), practice.settings.seed)
    return Prepared(
        practice=practice,
        sync=sync,
        roster_problems=len(roster.problems),
        messages=messages,
        inbox_before=installation.store.inbox.counts(),
        logins=demo_logins(
            installation.store, installation.config.base_dir, actor=actor
        ),
    )


def demo_practice(installation: Installation) -> DemoPractice:
    """The practice of the installation's `demo` adapter; ConfigError when it has none."""
    adapter = installation.pm.get_plugin(ADAPTER_NAME)
    practice = adapter.practice() if isinstance(adapter, DemoAdapter) else None
    if practice is None:
        raise ConfigError(
            "pas d'adaptateur « demo » configuré : ce dossier n'est pas une "
            "installation de démonstration",
            path=installation.config.path,
            key="adapters.demo",
            expected="un dossier créé par « fmt-plugin demo », ou un dossier vide",
        )
    return practice


async def _replay(listening: ServiceReady, messages: list[bytes]) -> SendReport:
    """Send the messages; the summary counts quarantined ones, whose warnings would flood."""
    ingest_log = logging.getLogger("fmt_plugin.ingest")
    level = ingest_log.level
    ingest_log.setLevel(max(logging.ERROR, ingest_log.getEffectiveLevel()))
    try:
        return await send_messages(
            listening.mllp_host,
            listening.mllp_port,
            messages,
            connections=SENDERS,
        )
    finally:
        ingest_log.setLevel(level)


def _recalls_and_statuses(installation: Installation, as_of: date) -> Results:
    """`recalls run` at `as_of`, then the statuses the summary shows (on the store's thread)."""
    now = datetime.now(PARIS)
    plan = runner.plan(installation, as_of)
    queued = runner.queue(installation, plan, now)
    # This thread has no event loop: the delivery gets one of its own.
    delivery = asyncio.run(runner.deliver(installation, now))
    # Every patient's statuses at `as_of`, as the dashboard lists them (the service only
    # re-evaluated those the messages named).
    track_status_changes(installation.store, installation.pm, plan.practice)
    folder = _outbox_folder(installation)
    files = len(list(folder.glob("*.eml"))) if folder and folder.is_dir() else 0
    return Results(
        evaluation=plan.practice,
        queued=len(queued),
        delivery=delivery,
        outbox_folder=folder,
        outbox_files=files,
        inbox_after=installation.store.inbox.counts(),
    )


def _outbox_folder(installation: Installation) -> Path | None:
    """The folder of the file channel (`[channels.file]`), None when it is not configured."""
    for channel in runner.recall_channels(installation):
        if isinstance(channel, FileChannel):
            return channel.folder
    return None
