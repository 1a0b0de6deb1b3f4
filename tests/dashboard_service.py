"""The dashboard under test: a small demo practice, the real service, a real Chromium.

`demo_template` builds a demo installation once per test worker (`fmt-plugin demo --once`
in a subprocess, as a user runs it, with 150 patients instead of 1,500); each test gets a
copy, served by the real `run_service` on free ports in a thread of its own, with the
dashboard's clock in the test's hands (`Clock`). `page` is a fresh browser context on it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from fmt_plugin.service import ServiceReady, run_service
from fmt_plugin.timezone import PARIS

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-background-networking"]
#: The demo history stops on this day; the dashboard's clock starts on it, at 9:00.
DEMO_AS_OF = date(2026, 11, 30)
DEMO_PATIENTS = 150
START_TIMEOUT_S = 60


@dataclass
class Clock:
    """The dashboard's time, moved by the test (idle expiry, lock-out end)."""

    now: datetime = field(
        default_factory=lambda: datetime.combine(
            DEMO_AS_OF, datetime.min.time(), tzinfo=PARIS
        ).replace(hour=9)
    )

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class DemoLogins:
    """The demo's accounts and passwords, as `comptes-demo.txt` holds them."""

    passwords: dict[str, str]

    @classmethod
    def read(cls, folder: Path) -> DemoLogins:
        passwords = {}
        for line in (folder / "comptes-demo.txt").read_text("utf-8").splitlines():
            if not line.startswith("#"):
                name, _role, password = line.split("\t")
                passwords[name] = password
        return cls(passwords)


@dataclass
class RunningDashboard:
    """The service running on a copy of the demo practice; `url` is the dashboard's."""

    folder: Path
    url: str
    mllp_port: int
    clock: Clock
    logins: DemoLogins
    _loop: asyncio.AbstractEventLoop
    _stop: asyncio.Event
    _thread: threading.Thread
    errors: list[BaseException]

    @property
    def config(self) -> Path:
        return self.folder / "fmt.toml"

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=60)
        if self.errors:
            raise self.errors[0]


def build_demo(folder: Path, patients: int = DEMO_PATIENTS) -> Path:
    """`fmt-plugin demo FOLDER --once` with `patients` patients; returns the folder."""
    from fmt_plugin.demo.run import prepare_installation

    config, _ = prepare_installation(folder, DEMO_AS_OF, actor="test")
    text = config.read_text("utf-8").replace(
        "patients = 1500", f"patients = {patients}"
    )
    config.write_text(text, "utf-8")
    env = {k: v for k, v in os.environ.items() if k != "FMT_CONFIG"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "fmt_plugin",
            "demo",
            str(folder),
            "--once",
            "--as-of",
            DEMO_AS_OF.isoformat(),
            "--mllp-port",
            "0",
            "--http-port",
            "0",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return folder


def serve(folder: Path, clock: Clock) -> RunningDashboard:
    """Run the service on `folder` in a thread; return once it listens."""
    ready: list[ServiceReady] = []
    errors: list[BaseException] = []
    started = threading.Event()
    holder: dict[str, object] = {}

    async def main() -> None:
        stop = asyncio.Event()
        holder["loop"] = asyncio.get_running_loop()
        holder["stop"] = stop

        def on_ready(where: ServiceReady) -> None:
            ready.append(where)
            started.set()

        await run_service(
            folder / "fmt.toml",
            mllp_port=0,
            http_port=0,
            stop=stop,
            on_ready=on_ready,
            clock=clock,
        )

    def thread_main() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # noqa: BLE001 -- reported to the test
            errors.append(exc)
        finally:
            started.set()

    thread = threading.Thread(target=thread_main, name="dashboard-service", daemon=True)
    thread.start()
    started.wait(START_TIMEOUT_S)
    if errors:
        raise errors[0]
    assert ready, "the service did not start"
    where = ready[0]
    assert where.http_url is not None
    return RunningDashboard(
        folder=folder,
        url=where.http_url,
        mllp_port=where.mllp_port,
        clock=clock,
        logins=DemoLogins.read(folder),
        _loop=holder["loop"],  # type: ignore[arg-type]
        _stop=holder["stop"],  # type: ignore[arg-type]
        _thread=thread,
        errors=errors,
    )


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo installation of 150 patients, built once per test worker (do not modify)."""
    return build_demo(tmp_path_factory.mktemp("demo-template") / "demo")


@pytest.fixture
def dashboard(demo_template: Path, tmp_path: Path) -> Iterator[RunningDashboard]:
    """The service, dashboard included, on a fresh copy of the demo practice."""
    folder = tmp_path / "demo"
    shutil.copytree(demo_template, folder)
    running = serve(folder, Clock())
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's Chromium, headless, driven by Playwright (one per test module).

    Not one per session: while Playwright's sync API runs, the worker's main thread counts
    as inside an event loop, and the `asyncio.run` of the next module's tests would fail.
    """
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser, dashboard: RunningDashboard):
    """A fresh browser context (no cookies) on the dashboard, French locale."""
    context = browser.new_context(base_url=dashboard.url, locale="fr-FR")
    context.set_default_timeout(15_000)
    opened = context.new_page()
    try:
        yield opened
    finally:
        context.close()


def log_in(
    page, dashboard: RunningDashboard, name: str = "docteur", then: str = "/etat"
) -> None:
    """Log in through the form as one of the demo accounts, starting from page `then`."""
    page.goto(then)
    page.get_by_label("Identifiant").fill(name)
    page.get_by_label("Mot de passe").fill(dashboard.logins.passwords[name])
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(lambda url: "/connexion" not in url)


#: Set to a folder (e.g. `docs/images`) to keep the screenshots the documentation shows.
SCREENSHOTS_ENV = "FMT_DOCS_SCREENSHOTS"


def screenshot(page, name: str) -> None:
    """Save the page as `NAME.png` for docs/dashboard.md when FMT_DOCS_SCREENSHOTS is set."""
    folder = os.environ.get(SCREENSHOTS_ENV)
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)
