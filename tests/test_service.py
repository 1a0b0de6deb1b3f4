"""The service run in-process: `/health`, `/status`, start-up refusals, the shutdown bound.

Real sockets on free ports, a real installation made by `init` on the public scenario; the
HTTP client is the standard library's, the MLLP client plain asyncio streams.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import PUBLIC_SCENARIO
from service_process import start_server

from fmt_plugin.errors import ConfigError
from fmt_plugin.mllp.server import REFUSALS
from fmt_plugin.service import ServiceReady, run_service

START_BLOCK, END_BLOCK = b"\x0b", b"\x1c\r"

Scenario = Callable[[ServiceReady], Awaitable[None]]


def serve_during(config: Path, scenario: Scenario) -> None:
    """Start the service on free ports, run `scenario` against it, then stop it."""

    async def main() -> None:
        stop = asyncio.Event()
        ready: asyncio.Future[ServiceReady] = asyncio.get_running_loop().create_future()
        service = asyncio.create_task(
            run_service(
                config, mllp_port=0, http_port=0, stop=stop, on_ready=ready.set_result
            )
        )
        done, _ = await asyncio.wait(
            {service, ready}, return_when=asyncio.FIRST_COMPLETED, timeout=60
        )
        if service in done:
            service.result()  # start-up failed: raise its error
        try:
            await scenario(ready.result())
        finally:
            stop.set()
            await service

    asyncio.run(main())


async def http_get(url: str) -> tuple[int, dict[str, Any]]:
    """GET with urllib (in a thread): the status and the decoded JSON body."""

    def fetch() -> tuple[int, dict[str, Any]]:
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - our http URL
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    return await asyncio.to_thread(fetch)


async def send_mllp(ready: ServiceReady, messages: list[bytes]) -> list[bytes]:
    """Send each message on one connection and return the ACKs."""
    reader, writer = await asyncio.open_connection(ready.mllp_host, ready.mllp_port)
    acks = []
    for message in messages:
        writer.write(START_BLOCK + message + END_BLOCK)
        await writer.drain()
        acks.append(await asyncio.wait_for(reader.readuntil(END_BLOCK), 30))
    writer.close()
    await writer.wait_closed()
    return acks


def scenario_messages() -> list[bytes]:
    return [
        path.read_bytes()
        for path in sorted((PUBLIC_SCENARIO / "messages").glob("*.hl7"))
    ]


def roster_identities() -> list[str]:
    """Every name and INS of the public roster: none may appear on the status page."""
    lines = (PUBLIC_SCENARIO / "roster.csv").read_text(encoding="utf-8").splitlines()
    values = []
    for line in lines[1:]:
        cells = line.split(",")
        values += [cells[1], cells[2], cells[3]]
    return [value for value in values if value]


def test_health_is_200_when_store_listener_and_scheduler_are_up(scenario_config):
    """/health answers 200 and every check true on a running service."""

    async def scenario(ready: ServiceReady) -> None:
        assert ready.http_url is not None
        status, body = await http_get(ready.http_url + "/health")
        assert status == 200
        assert body == {
            "etat": "ok",
            "controles": {
                "base": True,
                "base_inscriptible": True,
                "ecoute_hl7": True,
                "planificateur": True,
            },
        }

    serve_during(scenario_config, scenario)


def test_status_counts_todays_messages_by_outcome(scenario_config):
    """/status counts the scenario's messages: integrated, quarantined, and this run's tally."""

    async def scenario(ready: ServiceReady) -> None:
        assert ready.http_url is not None
        messages = scenario_messages()
        acks = await send_mllp(ready, messages)
        assert len(acks) == len(messages)
        await send_mllp(ready, messages[:2])  # resent: duplicates, stored once
        status, body = await http_get(ready.http_url + "/status")
        assert status == 200
        today = body["messages"]["aujourd_hui"]
        assert today["recus"] == len(messages)
        assert today["integres"] + today["en_quarantaine"] == len(messages)
        assert (
            today["en_quarantaine"] == 1
        )  # qx_unknown.hl7: a patient not on the roster
        assert body["messages"]["depuis_demarrage"] == {
            "accepted": len(messages) - 1,
            "duplicate": 2,
            "quarantined": 1,
        }

    serve_during(scenario_config, scenario)


def test_status_lists_adapters_listener_outbox_and_next_job_runs(scenario_config):
    """/status names the adapters with versions, the listener, outbox states and the jobs."""

    async def scenario(ready: ServiceReady) -> None:
        assert ready.http_url is not None
        _, body = await http_get(ready.http_url + "/status")
        adapters = {adapter["nom"]: adapter for adapter in body["adaptateurs"]}
        assert {"csv_roster", "recall_channels", "default_rule_pack"} <= set(adapters)
        assert all(adapter["version"] for adapter in adapters.values())
        assert body["ecoute_hl7"]["port"] == ready.mllp_port
        assert body["ecoute_hl7"]["en_service"] is True
        assert body["ecoute_hl7"]["refus"] == dict.fromkeys(REFUSALS, 0)
        assert set(body["rappels"]) >= {"planned", "sent", "dead", "uncertain"}
        jobs = {job["id"]: job for job in body["taches"]}
        assert set(jobs) == {"recalls-plan", "recalls-deliver", "status-snapshot"}
        assert all(job["prochaine_execution"] for job in jobs.values())

    serve_during(scenario_config, scenario)


def test_status_carries_no_patient_identity(scenario_config):
    """Nothing of the roster's names or INS is on the status page, even after messages."""

    async def scenario(ready: ServiceReady) -> None:
        assert ready.http_url is not None
        await send_mllp(ready, scenario_messages())
        _, body = await http_get(ready.http_url + "/status")
        text = json.dumps(body, ensure_ascii=False)
        leaked = [value for value in roster_identities() if value in text]
        assert leaked == []

    serve_during(scenario_config, scenario)


def test_http_can_be_switched_off(scenario_config):
    """`[http] enabled = false`: no status URL, the service still runs."""
    text = scenario_config.read_text(encoding="utf-8")
    scenario_config.write_text(
        text.replace("enabled = true", "enabled = false", 1), encoding="utf-8"
    )

    async def scenario(ready: ServiceReady) -> None:
        assert ready.http_url is None
        assert len(await send_mllp(ready, scenario_messages()[:1])) == 1

    serve_during(scenario_config, scenario)


def _never(ready: ServiceReady) -> Awaitable[None]:
    raise AssertionError("the service should not have started")


def test_start_up_refuses_an_unreadable_mssante_certificate(scenario_config, tmp_path):
    """A client certificate that is not PEM stops start-up, naming the setting."""
    bad = tmp_path / "bal.crt"
    bad.write_text("pas un certificat")
    key = tmp_path / "bal.key"
    key.write_text("pas une clé")
    key.chmod(0o600)
    with scenario_config.open("a", encoding="utf-8") as toml:
        toml.write(
            "\n[channels.mssante]\n"
            'host = "127.0.0.1"\n'
            'sender = "cabinet@medecin.mssante.fr"\n'
            f'client_cert = "{bad}"\n'
            f'client_key = "{key}"\n'
            f'ca_file = "{PUBLIC_SCENARIO / "roster.csv"}"\n'
        )
    with pytest.raises(ConfigError) as error:
        serve_during(scenario_config, _never)
    assert error.value.key is not None
    assert error.value.key.startswith("channels.mssante.")


def test_start_up_refuses_an_outbox_folder_that_cannot_be_created(
    scenario_config, tmp_path
):
    """An outbox path under a regular file stops start-up, naming `channels.file.folder`."""
    blocker = tmp_path / "un-fichier"
    blocker.write_text("")
    text = scenario_config.read_text(encoding="utf-8")
    scenario_config.write_text(
        text.replace('folder = "outbox"', f'folder = "{blocker / "outbox"}"'),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as error:
        serve_during(scenario_config, _never)
    assert error.value.key == "channels.file.folder"


def test_start_up_refuses_a_malformed_rule_pack(scenario_config, tmp_path):
    """A practice pack that does not validate stops start-up before the listener opens."""
    pack = tmp_path / "pack.toml"
    pack.write_text('id = "fmt-2026"\nversion = "x"\n', encoding="utf-8")
    text = scenario_config.read_text(encoding="utf-8")
    scenario_config.write_text(
        text.replace("files = []", f'files = ["{pack}"]', 1), encoding="utf-8"
    )
    with pytest.raises(ConfigError) as error:
        serve_during(scenario_config, _never)
    assert str(pack) in str(error.value)


STUCK_ADAPTER = """
import time
from pathlib import Path

from fmt_plugin.hooks import hookimpl


@hookimpl
def fmt_hl7_received(message, sender):
    Path(__file__).with_name("entered").write_text("1")
    time.sleep(3600)  # a vendor hook stuck on a network share
"""


@pytest.mark.slow
def test_serve_gives_up_after_the_shutdown_bound_and_says_so(scenario_config, tmp_path):
    """A commit stuck past `shutdown_timeout_s`: SIGTERM still ends serve, exit 1, clear error."""
    adapters = tmp_path / "adapters"
    adapters.mkdir()
    (adapters / "stuck_adapter.py").write_text(STUCK_ADAPTER, encoding="utf-8")
    text = scenario_config.read_text(encoding="utf-8")
    text = text.replace("modules = []", 'modules = ["stuck_adapter"]')
    scenario_config.write_text(
        text.replace("shutdown_timeout_s = 10", "shutdown_timeout_s = 1"),
        encoding="utf-8",
    )
    server = start_server(scenario_config, tmp_path, python_path=adapters)
    with socket.create_connection((server.host, server.port), timeout=30) as client:
        client.sendall(START_BLOCK + scenario_messages()[0] + END_BLOCK)
        deadline = time.monotonic() + 30
        # Another process: no event to await, so look for its marker file.
        while not (adapters / "entered").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (adapters / "entered").exists()
        code = server.stop(signal.SIGTERM)
    errors = "".join(server.lines)
    assert code == 1
    assert "service.shutdown_timeout_s" in errors


def test_start_up_refuses_a_job_store_in_a_missing_folder(scenario_config):
    """The scheduler's job store under a folder that does not exist: refused, key named."""
    text = scenario_config.read_text(encoding="utf-8")
    scenario_config.write_text(
        text.replace('jobstore = "jobs.sqlite3"', 'jobstore = "absent/jobs.sqlite3"'),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as error:
        serve_during(scenario_config, _never)
    assert error.value.key == "recalls.jobstore"
    assert error.value.path == scenario_config
