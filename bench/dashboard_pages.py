"""Server time of the dashboard's pages on a demo practice of N patients, and one in Chromium.

Builds (once, cached under `bench/.cache/`) a demo installation of N patients without the
MLLP replay: the roster synced from the demo adapter, the practice evaluated and its
statuses remembered as the nightly job does, one account. Then serves the dashboard
in-process (Dashboard + create_app + DashboardServer, as `fmt_plugin.service` does) and
times each URL with a real HTTP client on a logged-in cookie: median and p95 over
`--repeat` requests, after one warm-up (the read model's first load is reported apart).
The list page is also timed in Chromium (`page.goto` until `load`).

    python bench/dashboard_pages.py                          # 1,500 and 20,000 patients
    python bench/dashboard_pages.py --patients 1500 --repeat 20
    python bench/dashboard_pages.py --url / --url /evolution # other pages, once they exist
    python bench/dashboard_pages.py --json

Measured on 2026-12-03 (2 vCPUs, Python 3.11.7, quiet machine, `--repeat 10`, every page
of the dashboard), round trip on the loopback with the server as shipped (TCP_NODELAY set
on its socket; without it each keep-alive answer waited ~40 ms for the client's delayed ACK).
Median / p95 in ms; goal: every page under 300 ms of server time at 20,000, the list under
1 s in the browser:

| URL | 1,500 | 20,000 |
|---|---:|---:|
| `/` (15 indicators, euros) | 6.5 / 8.9 | 26.8 / 32.6 |
| `/indicateurs` | 2.1 / 2.5 | 2.2 / 4.1 |
| `/indicateurs/dep_diabete?page=1` | 7.7 / 10.3 | 26.6 / 29.9 |
| `…?tri=age&ordre=desc` | 7.4 / 8.4 | 40.1 / 191.2 |
| `…?statut=a_verifier&tri=dernier_acte&ordre=desc` | 7.0 / 80.2 | 41.1 / 203.5 |
| `…?page=50` | 6.2 / 7.8 | 23.4 / 27.4 |
| `/patients/P000002` (one patient evaluated live, audited) | 9.4 / 11.6 | 18.6 / 27.0 |
| `/evolution` (36 snapshots, SVG) | 3.5 / 4.5 | 2.1 / 2.3 |
| `/remuneration` (estimate kept until the store changes) | 24.9 / 30.1 | 99.3 / 123.0 |
| `/rappels` | 4.5 / 7.0 | 4.5 / 5.4 |
| `/quarantaine` | 4.2 / 5.6 | 3.5 / 6.3 |
| `/etat` | 2.0 / 3.5 | 1.8 / 3.3 |
| Chromium, list page 1 (`goto` until `load`) | 164 / 226 | 176 / 302 |
| first page after start-up (read model loaded) | 112 | 1,623 |

`dep_diabete` holds 9,929 patients at 20,000 (199 pages). `/remuneration` took 883 ms at
20,000 before it read the read model instead of decrypting the roster per view, and its
estimate was kept per change of the store. The p95 of the sorted lists is the sort of ~10,000
rows by a column on a request; caching the sorted orders per change is the next step if a
practice finds it slow.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import http.client
import json
import logging
import os
import re
import secrets
import shutil
import socket
import statistics
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fmt_plugin.accounts.passwords import hash_password
from fmt_plugin.accounts.roles import Role
from fmt_plugin.config import load_config
from fmt_plugin.demo.run import prepare_installation
from fmt_plugin.evaluation import evaluate_practice, select_rule_pack
from fmt_plugin.installation import Installation, open_installation
from fmt_plugin.roster import collect_roster
from fmt_plugin.status_tracking import track_status_changes
from fmt_plugin.timezone import PARIS
from fmt_plugin.web import serving
from fmt_plugin.web.app import Dashboard, create_app
from fmt_plugin.web.practice import PracticeBackend
from fmt_plugin.web.serving import DashboardServer

CACHE = Path(__file__).resolve().parent / ".cache"
AS_OF = date(2026, 11, 30)
ACCOUNT = "bench"
DEFAULT_PATIENTS = (1_500, 20_000)
DEFAULT_REPEAT = 30
#: The indicator of the list URLs: the one with the most patients in the demo.
LIST_CODE = "dep_diabete"
CHROMIUM = Path("/usr/bin/chromium")
#: The installation's format: bump to rebuild the caches after a change of what is built.
CACHE_VERSION = 1


def default_urls(code: str = LIST_CODE) -> list[str]:
    """The list pages: index, first page, sorted, filtered, searched-free deep page."""
    base = f"/indicateurs/{code}"
    return [
        "/indicateurs",
        f"{base}?page=1",
        f"{base}?tri=age&ordre=desc",
        f"{base}?tri=echeance",
        f"{base}?statut=a_verifier&tri=dernier_acte&ordre=desc",
        f"{base}?page=50",
    ]


@dataclass(frozen=True)
class Timing:
    """One URL's timings, in milliseconds."""

    url: str
    status: int
    bytes: int
    median_ms: float
    p95_ms: float
    max_ms: float
    runs: int


# --- the installation -----------------------------------------------------------------------


def built_installation(patients: int, *, rebuild: bool = False) -> tuple[Path, str]:
    """The cached installation of `patients` patients (built if missing); config, password."""
    folder = CACHE / f"demo-{patients}-v{CACHE_VERSION}"
    marker = folder / "built.json"
    if rebuild and folder.exists():
        shutil.rmtree(folder)
    if marker.exists():
        return folder / "fmt.toml", json.loads(marker.read_text("utf-8"))["password"]
    if folder.exists():
        shutil.rmtree(folder)  # a build that stopped half-way
    started = time.perf_counter()
    config, _ = prepare_installation(folder, AS_OF, actor="bench")
    text = config.read_text("utf-8")
    if "patients = 1500" not in text:
        raise SystemExit("the demo's fmt.toml no longer says `patients = 1500`")
    config.write_text(
        text.replace("patients = 1500", f"patients = {patients}"), "utf-8"
    )
    password = secrets.token_urlsafe(18)
    with open_installation(config) as installation:
        roster = collect_roster(installation.pm, AS_OF)
        installation.store.sync_roster(roster.patients, actor="bench")
        pack = select_rule_pack(installation.config, installation.pm)
        practice = evaluate_practice(installation.store, installation.pm, pack, AS_OF)
        track_status_changes(installation.store, installation.pm, practice)
        _add_account(installation, password)
    marker.write_text(json.dumps({"password": password}), "utf-8")
    _progress(f"built {patients} patients in {time.perf_counter() - started:.1f} s")
    return config, password


def _add_account(installation: Installation, password: str) -> None:
    installation.store.accounts.add(
        ACCOUNT,
        Role.ASSISTANT,
        hash_password(password),
        actor="bench",
        now=datetime.now(PARIS),
    )


# --- the server -----------------------------------------------------------------------------


@contextlib.contextmanager
def tcp_nodelay() -> Iterator[None]:
    """Serve with TCP_NODELAY on the listening socket (accepted sockets inherit it).

    As shipped, the dashboard's sockets keep Nagle's algorithm: on a keep-alive connection
    the body, written after the headers, waits for the client's delayed ACK (~40 ms on
    Linux). This shows what the pages cost without that wait.
    """
    original = serving.DashboardServer._bind

    def bind(self: serving.DashboardServer) -> socket.socket:
        sock = original(self)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    serving.DashboardServer._bind = bind  # type: ignore[method-assign]
    try:
        yield
    finally:
        serving.DashboardServer._bind = original  # type: ignore[method-assign]


@contextlib.contextmanager
def served(config: Path) -> Iterator[str]:
    """The dashboard on `config`, in-process on a free port of 127.0.0.1; its base URL."""
    settings = dataclasses.replace(load_config(config).http, port=0)
    ready = threading.Event()
    holder: dict[str, Any] = {}

    async def main() -> None:
        backend = PracticeBackend(config)
        await backend.start()
        dashboard = Dashboard(backend, settings, clock=lambda: datetime.now(PARIS))
        server = DashboardServer(create_app(dashboard), settings)
        await server.start()
        stop = asyncio.Event()
        holder.update(url=server.url, stop=stop, loop=asyncio.get_running_loop())
        ready.set()
        try:
            await stop.wait()
        finally:
            await server.stop()
            await backend.stop()

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    if not ready.wait(60):
        raise SystemExit("the dashboard did not start within 60 s")
    try:
        yield holder["url"]
    finally:
        holder["loop"].call_soon_threadsafe(holder["stop"].set)
        thread.join(30)


# --- the client -----------------------------------------------------------------------------


class Client:
    """A logged-in HTTP/1.1 client on one keep-alive connection."""

    def __init__(self, base_url: str) -> None:
        match = re.match(r"http://([^:/]+):(\d+)", base_url)
        if match is None:
            raise SystemExit(f"unexpected dashboard URL {base_url}")
        self._conn = http.client.HTTPConnection(match[1], int(match[2]), timeout=60)
        self._cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, form: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self._cookies.items())}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self._conn.request(method, path, body=body, headers=headers)
        response = self._conn.getresponse()
        data = response.read()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self._cookies[key] = rest.split(";", 1)[0]
        return response.status, data

    def log_in(self, password: str) -> None:
        status, page = self.request("GET", "/connexion")
        token = re.search(rb'name="csrf" value="([^"]+)"', page)
        if status != 200 or token is None:
            raise SystemExit("no log-in form")
        form = {
            "csrf": token[1].decode(),
            "identifiant": ACCOUNT,
            "mot_de_passe": password,
        }
        status, _ = self.request("POST", "/connexion", form)
        if status != 303 or "fmt_session" not in self._cookies:
            raise SystemExit(f"log-in refused ({status})")

    @property
    def cookie(self) -> str:
        return self._cookies["fmt_session"]


def time_url(client: Client, url: str, repeat: int) -> Timing:
    """`repeat` GETs of `url` after one warm-up; median, p95 and max in ms."""
    status, body = client.request("GET", url)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        status, body = client.request("GET", url)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return Timing(
        url,
        status,
        len(body),
        round(statistics.median(times), 1),
        round(p95, 1),
        round(times[-1], 1),
        repeat,
    )


def time_in_chromium(base_url: str, cookie: str, url: str, repeat: int) -> Timing:
    """`page.goto(url)` until `load` in headless Chromium, `repeat` times after a warm-up."""
    from playwright.sync_api import sync_playwright

    host = re.match(r"http://([^:/]+)", base_url)
    assert host is not None  # noqa: S101 -- checked by Client already
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox"]
        )
        context = browser.new_context(base_url=base_url)
        context.add_cookies([{"name": "fmt_session", "value": cookie, "url": base_url}])
        page = context.new_page()
        page.goto(url, wait_until="load")
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            response = page.goto(url, wait_until="load")
            times.append((time.perf_counter() - started) * 1000)
        status = response.status if response else 0
        size = len(page.content())
        browser.close()
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return Timing(
        "chromium " + url,
        status,
        size,
        round(statistics.median(times), 1),
        round(p95, 1),
        round(times[-1], 1),
        repeat,
    )


# --- the run --------------------------------------------------------------------------------


def run(
    patients: int, urls: Sequence[str], repeat: int, *, browser: bool, rebuild: bool
) -> dict[str, Any]:
    """Every timing of one practice size."""
    config, password = built_installation(patients, rebuild=rebuild)
    with served(config) as base_url:
        client = Client(base_url)
        client.log_in(password)
        started = time.perf_counter()
        status, _ = client.request("GET", "/indicateurs")
        first_load = (time.perf_counter() - started) * 1000
        if status != 200:
            raise SystemExit(f"/indicateurs answered {status}")
        timings = [time_url(client, url, repeat) for url in urls]
        if browser and CHROMIUM.exists():
            list_url = next((u for u in urls if "?" in u), urls[0])
            timings.append(
                time_in_chromium(base_url, client.cookie, list_url, min(repeat, 10))
            )
    return {
        "patients": patients,
        "first_load_ms": round(first_load, 1),
        "timings": [asdict(t) for t in timings],
    }


def render(results: list[dict[str, Any]]) -> str:
    """The results as markdown tables, one per practice size."""
    lines = []
    for result in results:
        lines += [
            f"### {result['patients']:,} patients",
            "",
            (
                "First page after start-up (read model loaded, every row decrypted): "
                f"{result['first_load_ms']:,.0f} ms"
            ),
            "",
            "| URL | status | KiB | median ms | p95 ms | max ms | runs |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for t in result["timings"]:
            lines.append(
                f"| `{t['url']}` | {t['status']} | {t['bytes'] / 1024:.0f} | "
                f"{t['median_ms']} | {t['p95_ms']} | {t['max_ms']} | {t['runs']} |"
            )
        lines.append("")
    return "\n".join(lines)


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--patients",
        type=int,
        action="append",
        help="practice size (repeatable; default: 1500 and 20000)",
    )
    parser.add_argument(
        "--url",
        action="append",
        help="a path to time (repeatable; default: the list pages)",
    )
    parser.add_argument("--repeat", type=int, default=DEFAULT_REPEAT)
    parser.add_argument("--no-browser", action="store_true", help="skip Chromium")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the caches")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument(
        "--tcp-nodelay",
        action="store_true",
        help="serve with TCP_NODELAY (without the ~40 ms delayed-ACK wait)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    os.environ.pop("FMT_CONFIG", None)
    urls = args.url or default_urls()
    results = []
    nodelay = tcp_nodelay() if args.tcp_nodelay else contextlib.nullcontext()
    with nodelay:
        results = _run_all(args, urls)
    print(json.dumps(results, indent=2) if args.json else render(results))
    return 0


def _run_all(args: argparse.Namespace, urls: list[str]) -> list[dict[str, Any]]:
    results = []
    for patients in args.patients or DEFAULT_PATIENTS:
        _progress(f"{patients} patients…")
        results.append(
            run(
                patients,
                urls,
                args.repeat,
                browser=not args.no_browser,
                rebuild=args.rebuild,
            )
        )
    return results


if __name__ == "__main__":
    sys.exit(main())
