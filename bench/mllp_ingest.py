"""Benchmark of HL7 v2 ingestion over MLLP: fmt-plugin against hl7apy and python-hl7.

Run from the repository root: `python bench/mllp_ingest.py [--messages N] [--senders 1,8]
[--peers hl7apy,python-hl7,fmt-plugin] [--import-messages N] [--seed S] [--json]`.

Each peer runs in its own subprocess, one at a time, bound to 127.0.0.1 on a free port, with
the same synthetic messages (`bench/hl7_messages.py`). An asyncio load generator in this
process drives it with K concurrent senders, each on its own TCP connection in original mode:
send one MLLP frame, wait for its framed ACK, check it (MSA-1 `AA`, or `CA` with
`--ack-mode enhanced`, where the other peers' `AA` is tolerated; MSA-2 = the message's
MSH-10), send the next. Per peer and K: messages, msg/s (good ACKs per second of wall time),
p50/p99 ACK latency, failures (no ACK, wrong code, wrong MSA-2, connection dropped).

- `hl7apy`: `hl7apy.mllp.MLLPServer`, whose handler parses with `parse_message` and returns
  an ACK, as hl7apy's tutorial shows. It closes the connection after each ACK (one message
  per connection), so its senders reconnect for every message; the latency includes the
  connection. It parses slowly: it gets fewer messages (`--hl7apy-messages`); compare rates.
- `python-hl7`: `hl7.mllp.start_hl7_server` with the receive loop of python-hl7's docs
  (`readmessage`, `create_ack`, `writemessage`), no storage. Decoding is UTF-8
  (`--python-hl7-encoding`); the library's default, ASCII, gives no ACK to accented names.
- `fmt-plugin`: `fmt-plugin serve`, a fresh installation for every run (a temporary directory
  made by `fmt-plugin init --roster`), durable encrypted commit before each ACK.

The `import` benchmark times `fmt-plugin import FILE` on `--import-messages` messages in one
MLLP-framed file, end to end (wall clock of the subprocess), in a fresh installation.

See bench/README.md for the contract assumed of `fmt-plugin serve` and `import`, and caveats.
No test asserts these timings.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import json
import math
import os
import platform
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hl7_messages import (
    END_BLOCK,
    ENHANCED_ACK_TYPES,
    ORIGINAL_ACK_TYPES,
    START_BLOCK,
    RosterPatient,
    frame,
    generate_messages,
    generate_patients,
    write_messages_file,
    write_roster,
)

DEFAULT_SEED = 2026
DEFAULT_PATIENTS = 2_000
DEFAULT_MESSAGES = 5_000
DEFAULT_HL7APY_MESSAGES = 300
DEFAULT_IMPORT_MESSAGES = 100_000
DEFAULT_WARMUP = 20
DEFAULT_SENDERS = (1, 8)
DEFAULT_ACK_TIMEOUT_S = 5.0
DEFAULT_MAX_FAILURES = 50
STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
IMPORT_TIMEOUT_S = 3600
HOST = "127.0.0.1"

#: The floor servers of `durable_floor.py` (raw bytes committed, nothing else): opt-in.
FLOOR_PEERS = ("floor-inline", "floor-thread", "floor-streams")
PEERS = ("hl7apy", "python-hl7", "fmt-plugin", *FLOOR_PEERS)
DEFAULT_PEERS = ("hl7apy", "python-hl7", "fmt-plugin")

#: MSA-1 codes counted as "accepted", by acknowledgement mode. Original mode (MSH-15/16
#: empty) wants `AA`. Enhanced mode (MSH-15 `AL`, MSH-16 `NE`) wants the accept ACK `CA`
#: ("committed to safe storage") and no application ACK; `AA`, from a server that ignores
#: MSH-15, is counted as accepted too, except from fmt-plugin (`FMT_ACCEPTED_CODES`).
ACCEPTED_CODES = {
    "original": frozenset({"AA"}),
    "enhanced": frozenset({"CA", "AA"}),
}
#: fmt-plugin follows MSH-15/16: `CA` alone in enhanced mode (an `AA` there would be an
#: application ACK nobody asked for, read by the sender as the next message's answer).
FMT_ACCEPTED_CODES = {
    "original": frozenset({"AA"}),
    "enhanced": frozenset({"CA"}),
}
ACK_TYPES = {"original": ORIGINAL_ACK_TYPES, "enhanced": ENHANCED_ACK_TYPES}
FMT = "fmt-plugin"


def accepted_codes(peer: str, ack_mode: str) -> frozenset[str]:
    """The MSA-1 codes counted as accepted from `peer` in `ack_mode`."""
    return (FMT_ACCEPTED_CODES if peer == FMT else ACCEPTED_CODES)[ack_mode]


# The goals of issue 17.
GOAL_OVER_HL7APY = 40.0
GOAL_OVER_PYTHON_HL7_ONE = 1.2
GOAL_OVER_PYTHON_HL7_EIGHT = 2.0
GOAL_P99_ONE_SENDER_MS = 3.0
GOAL_IMPORT_PER_S = 6_000.0

_CARETS = re.compile(r"\s*[\^~]+\s*")

# The ACK reader's buffer: ACKs are small, but an ERR segment may carry a long text.
READ_LIMIT = 1 << 20


# --- the two third-party servers, run as `mllp_ingest.py --serve-peer NAME --port P` -------


def serve_hl7apy(port: int) -> None:
    """hl7apy's `MLLPServer` with a handler that parses the message and replies an ACK.

    This is the tutorial's server ("MLLP Server implementation"): a dict of handlers keyed by
    the exact MSH-9, an `AbstractHandler` whose `reply()` parses `incoming_message` with
    `parse_message` and returns the MLLP-framed reply (`to_mllp()`). No `ERR` handler: on an
    error the server closes the connection, as documented.
    """
    from hl7apy.core import Message
    from hl7apy.mllp import AbstractHandler, MLLPServer
    from hl7apy.parser import parse_message

    class AckHandler(AbstractHandler):  # type: ignore[misc]
        def reply(self) -> str:
            incoming = parse_message(self.incoming_message)
            msh = incoming.msh
            ack = Message("ACK", version=msh.msh_12.value)
            ack.msh.msh_3 = msh.msh_5.value
            ack.msh.msh_4 = msh.msh_6.value
            ack.msh.msh_5 = msh.msh_3.value
            ack.msh.msh_6 = msh.msh_4.value
            ack.msh.msh_9 = f"ACK^{msh.msh_9.msh_9_2.value}^ACK"
            ack.msh.msh_10 = f"A{msh.msh_10.value}"
            ack.msh.msh_11 = msh.msh_11.value
            ack.msa.msa_1 = "AA"
            ack.msa.msa_2 = msh.msh_10.value
            return str(ack.to_mllp())

    handlers = {
        "ORU^R01^ORU_R01": (AckHandler,),
        "ORU^R01": (AckHandler,),
        "VXU^V04^VXU_V04": (AckHandler,),
        "VXU^V04": (AckHandler,),
    }
    server = MLLPServer(HOST, port, handlers)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    finally:
        server.server_close()


def serve_python_hl7(port: int, encoding: str) -> None:
    """python-hl7's asyncio MLLP server with the receive loop of its documentation.

    `readmessage()` (decode + `hl7.parse`), `create_ack()`, `writemessage()`, `drain()`; only
    `IncompleteReadError` (the sender hung up) is caught, as in the docs. No storage.
    """
    import hl7.mllp

    async def process(reader: Any, writer: Any) -> None:
        try:
            while not writer.is_closing():
                message = await reader.readmessage()
                writer.writemessage(message.create_ack())
                await writer.drain()
        except asyncio.IncompleteReadError:
            if not writer.is_closing():
                writer.close()
                await writer.wait_closed()

    async def main() -> None:
        server = await hl7.mllp.start_hl7_server(
            process, host=HOST, port=port, encoding=encoding
        )
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, server.close)
        async with server:
            with contextlib.suppress(asyncio.CancelledError):
                await server.serve_forever()

    asyncio.run(main())


# --- peers as the harness sees them ---------------------------------------------------------


class PeerUnavailable(Exception):
    """The peer cannot run on this machine (yet); the message says why."""


@dataclass
class RunningPeer:
    """A peer's server process, its port and where its output goes."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    workdir: Path
    store_path: Path | None = None
    ready_s: float = 0.0


class Peer:
    """How to start one kind of server; subclasses say which."""

    name = ""
    #: True when the server closes the connection after each ACK: senders reconnect.
    one_message_per_connection = False

    def check(self) -> None:
        """Raise `PeerUnavailable` when the peer cannot run."""

    def command(self, port: int, workdir: Path) -> list[str]:
        raise NotImplementedError

    def prepare(self, workdir: Path) -> Path | None:
        """Set up `workdir` before the server starts; the store path, if any."""
        del workdir
        return None

    def start(self, workdir: Path) -> RunningPeer:
        store_path = self.prepare(workdir)
        port = free_port()
        log_path = workdir / f"{self.name}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(  # noqa: S603  # our own command line
                self.command(port, workdir),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=workdir,
            )
        peer = RunningPeer(process, port, log_path, workdir, store_path)
        started = time.perf_counter()
        try:
            wait_until_listening(process, port, log_path)
        except BaseException:
            stop(peer)
            raise
        peer.ready_s = time.perf_counter() - started
        return peer


class Hl7apyPeer(Peer):
    name = "hl7apy"
    one_message_per_connection = True

    def check(self) -> None:
        if not package_installed("hl7apy"):
            raise PeerUnavailable("hl7apy is not installed in this interpreter")

    def command(self, port: int, workdir: Path) -> list[str]:
        del workdir
        return [*self_command(self.name), "--port", str(port)]


class PythonHl7Peer(Peer):
    name = "python-hl7"

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding

    def check(self) -> None:
        if not package_installed("hl7"):
            raise PeerUnavailable(
                "python-hl7 (`hl7`) is not installed: pip install -e '.[dev]'"
            )

    def command(self, port: int, workdir: Path) -> list[str]:
        del workdir
        return [
            *self_command(self.name),
            "--port",
            str(port),
            "--python-hl7-encoding",
            self.encoding,
        ]


class FloorPeer(Peer):
    """`durable_floor.py`: the raw frame committed durably, an ACK from a template."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.name = f"floor-{mode}"

    def prepare(self, workdir: Path) -> Path | None:
        return workdir / "floor.sqlite3"

    def command(self, port: int, workdir: Path) -> list[str]:
        script = Path(__file__).resolve().with_name("durable_floor.py")
        return [
            sys.executable,
            str(script),
            "--port",
            str(port),
            "--mode",
            self.mode,
            "--store",
            str(workdir / "floor.sqlite3"),
        ]


class FmtPeer(Peer):
    """`fmt-plugin serve` in a fresh installation made by `fmt-plugin init --roster`."""

    name = FMT

    def __init__(self, cli: FmtCli, roster: Path) -> None:
        self.cli = cli
        self.roster = roster

    def check(self) -> None:
        self.cli.require("serve")

    def prepare(self, workdir: Path) -> Path | None:
        return self.cli.init(workdir / "installation", self.roster)

    def command(self, port: int, workdir: Path) -> list[str]:
        config = workdir / "installation" / "fmt.toml"
        # The status endpoint on a free port: it is not what is measured.
        return self.cli.command(
            config, "serve", "--mllp-port", str(port), "--http-port", "0"
        )


@dataclass(frozen=True)
class FmtCli:
    """The `fmt-plugin` command line: by default the script next to the running Python."""

    executable: Path

    def command(self, config: Path, *arguments: str) -> list[str]:
        """`fmt-plugin --config CONFIG ARGUMENTS…`."""
        return [str(self.executable), "--config", str(config), *arguments]

    def require(self, command: str) -> None:
        """Raise `PeerUnavailable` unless `fmt-plugin COMMAND --help` succeeds."""
        if not self.executable.exists():
            raise PeerUnavailable(
                f"{self.executable} not found: install fmt-plugin in this interpreter "
                "(pip install -e .) or pass --fmt-executable"
            )
        result = subprocess.run(  # noqa: S603  # our own command line
            [str(self.executable), command, "--help"],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        if result.returncode != 0:
            last_line = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise PeerUnavailable(
                f"`fmt-plugin {command}` is not available yet (`fmt-plugin {command} "
                f"--help` exited {result.returncode}: {last_line})"
            )

    def init(self, directory: Path, roster: Path) -> Path:
        """`fmt-plugin init DIRECTORY --roster ROSTER`; the store's path, from fmt.toml."""
        result = subprocess.run(  # noqa: S603  # our own command line
            [str(self.executable), "init", str(directory), "--roster", str(roster)],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        if result.returncode != 0:
            raise PeerUnavailable(
                f"`fmt-plugin init` exited {result.returncode}: {tail(result.stderr)}"
            )
        with (directory / "fmt.toml").open("rb") as config:
            store = tomllib.load(config).get("store", {}).get("path", "fmt.sqlite3")
        return directory / str(store)


def self_command(peer: str) -> list[str]:
    """This script, run as the server of `peer` (see `main`)."""
    return [sys.executable, str(Path(__file__).resolve()), "--serve-peer", peer]


def package_installed(name: str) -> bool:
    try:
        importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def default_fmt_executable() -> Path:
    """The `fmt-plugin` script installed next to the running Python."""
    return Path(sys.executable).parent / "fmt-plugin"


def store_size(store_path: Path | None) -> int | None:
    """Bytes of the SQLite store and its WAL, if any."""
    if store_path is None or not store_path.exists():
        return None
    wal = store_path.with_name(store_path.name + "-wal")
    return store_path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def free_port() -> int:
    """A port free on 127.0.0.1 now (another process could take it before the peer does)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_listening(
    process: subprocess.Popen[bytes], port: int, log_path: Path
) -> None:
    """Poll until the port accepts a TCP connection; fail if the process exits first."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise PeerUnavailable(
                f"the server exited with code {process.returncode} before listening: "
                f"{tail(log_path.read_text(errors='replace'))}"
            )
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), 0.2):
            return
        time.sleep(0.05)
    raise PeerUnavailable(f"not listening on port {port} after {STARTUP_TIMEOUT_S} s")


def stop(peer: RunningPeer) -> int:
    """SIGTERM, then SIGKILL if it has not stopped in `STOP_TIMEOUT_S`; its exit code."""
    process = peer.process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def tail(text: str, lines: int = 3) -> str:
    """The last `lines` meaningful lines of `text` on one line (traceback carets skipped)."""
    kept = [
        line.strip()
        for line in text.strip().splitlines()
        if line.strip() and not _CARETS.fullmatch(line)
    ][-lines:]
    return " | ".join(kept) if kept else "no output"


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds used so far by process `pid` (Linux /proc), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
    ticks = int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat
    return ticks / os.sysconf("SC_CLK_TCK")


def count_tracebacks(log_path: Path) -> int:
    """Tracebacks in a server's log (asyncio's "Task exception was never retrieved" has one)."""
    text = log_path.read_text(errors="replace") if log_path.exists() else ""
    return text.count("Traceback (most recent call last)")


# --- the load generator ---------------------------------------------------------------------


@dataclass
class Outcome:
    """What the senders of one run saw."""

    latencies_s: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    ack_codes: Counter[str] = field(default_factory=Counter)
    connections: int = 0
    closed_after_ack: int = 0
    aborted: bool = False

    @property
    def failure_count(self) -> int:
        return sum(self.failures.values())


def check_ack(
    ack_frame: bytes, expected_id: str, accepted_codes: frozenset[str]
) -> tuple[str | None, str]:
    """(None, MSA-1) for an ACK with MSA-1 in `accepted_codes` and MSA-2 `expected_id`;
    otherwise (why not, MSA-1 or "")."""
    start = ack_frame.rfind(START_BLOCK)
    body = ack_frame[start + 1 : -len(END_BLOCK)].decode("utf-8", "replace")
    segments = [s for s in re.split(r"\r\n|\r|\n", body) if s]
    if not segments or not segments[0].startswith("MSH") or len(segments[0]) < 5:
        return "reply is not an HL7 message", ""
    separator, component = segments[0][3], segments[0][4]
    msa = next((s for s in segments if s.startswith(f"MSA{separator}")), None)
    if msa is None:
        return "ACK without MSA", ""
    fields = msa.split(separator)
    code = fields[1] if len(fields) > 1 else ""
    acknowledged = fields[2].split(component)[0] if len(fields) > 2 else ""
    if code not in accepted_codes:
        return f"MSA-1 {code or 'empty'} (not {'/'.join(sorted(accepted_codes))})", code
    if acknowledged != expected_id:
        return "MSA-2 is not the message's MSH-10", code
    return None, code


@dataclass(frozen=True)
class SendPolicy:
    """How the senders of a run behave and judge ACKs."""

    #: Reconnect for every message (the peer closes the connection after each ACK).
    one_message_per_connection: bool
    ack_timeout_s: float
    #: The run stops once this many messages have failed.
    max_failures: int
    #: MSA-1 codes that mean "accepted".
    accepted_codes: frozenset[str]


async def send_all(
    port: int,
    frames: Sequence[bytes],
    ids: Sequence[str],
    senders: int,
    policy: SendPolicy,
) -> tuple[Outcome, float]:
    """Send every frame once, with `senders` concurrent senders; the outcome and wall time."""
    outcome = Outcome()
    indices = iter(range(len(frames)))  # shared: each sender takes the next message
    started = time.perf_counter()
    await asyncio.gather(
        *(_sender(port, indices, frames, ids, outcome, policy) for _ in range(senders))
    )
    return outcome, time.perf_counter() - started


async def _sender(
    port: int,
    indices: Iterator[int],
    frames: Sequence[bytes],
    ids: Sequence[str],
    outcome: Outcome,
    policy: SendPolicy,
) -> None:
    """One sender in original mode: send a frame, wait for its ACK, then the next frame.

    The connection is kept open unless the peer closes it (or is known to close it after each
    ACK); a message that gets no ACK is counted as a failure and not resent, and the sender
    reconnects for the next one.
    """
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    for index in indices:
        if outcome.failure_count >= policy.max_failures:
            outcome.aborted = True
            break
        started = time.perf_counter()
        try:
            async with asyncio.timeout(policy.ack_timeout_s):
                if reader is not None and reader.at_eof():
                    outcome.closed_after_ack += 1
                    await _close(writer)
                    writer = None
                if writer is None:
                    reader, writer = await asyncio.open_connection(
                        HOST, port, limit=READ_LIMIT
                    )
                    outcome.connections += 1
                assert reader is not None  # noqa: S101  # set with writer
                writer.write(frames[index])
                reply = await reader.readuntil(END_BLOCK)
        except TimeoutError:
            outcome.failures[f"no ACK within {policy.ack_timeout_s:g} s"] += 1
        except asyncio.IncompleteReadError:
            outcome.failures["connection closed without an ACK"] += 1
        except asyncio.LimitOverrunError:
            outcome.failures["reply without an MLLP end block"] += 1
        except OSError as exc:  # refused, reset, broken pipe
            outcome.failures[f"connection error ({type(exc).__name__})"] += 1
        else:
            elapsed = time.perf_counter() - started
            problem, code = check_ack(reply, ids[index], policy.accepted_codes)
            outcome.ack_codes[code or "none"] += 1
            if problem is None:
                outcome.latencies_s.append(elapsed)
            else:
                outcome.failures[problem] += 1
            if not policy.one_message_per_connection:
                continue
        # After a failure, or after each ACK from a one-message-per-connection peer.
        await _close(writer)
        reader, writer = None, None
    await _close(writer)


async def _close(writer: asyncio.StreamWriter | None) -> None:
    if writer is not None:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def percentile_ms(sorted_seconds: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (`q` in 0–100) of sorted durations, in ms; None if empty."""
    if not sorted_seconds:
        return None
    rank = max(math.ceil(q / 100 * len(sorted_seconds)), 1)
    return sorted_seconds[rank - 1] * 1000


# --- one run: a fresh peer, a warm-up, the timed messages -----------------------------------


@dataclass(frozen=True)
class Workload:
    """The messages every peer receives: timed ones, and warm-up ones with other MSH-10s."""

    frames: list[bytes]
    ids: list[str]
    warmup_frames: list[bytes]
    warmup_ids: list[str]


def run_peer(
    peer: Peer, workload: Workload, count: int, senders: int, args: argparse.Namespace
) -> dict[str, Any]:
    """Start `peer` fresh, warm it up, send `count` messages with `senders` senders."""
    result: dict[str, Any] = {"peer": peer.name, "senders": senders, "messages": count}
    policy = SendPolicy(
        one_message_per_connection=peer.one_message_per_connection,
        ack_timeout_s=args.ack_timeout,
        max_failures=args.max_failures,
        accepted_codes=accepted_codes(peer.name, args.ack_mode),
    )
    with tempfile.TemporaryDirectory(prefix=f"mllp-{peer.name}-") as tmp:
        workdir = Path(tmp)
        try:
            running = peer.start(workdir)
        except PeerUnavailable as exc:
            result["error"] = str(exc)
            return result
        try:
            warmup, _ = asyncio.run(
                send_all(
                    running.port,
                    workload.warmup_frames[: args.warmup],
                    workload.warmup_ids[: args.warmup],
                    1,
                    policy,
                )
            )
            server_cpu_before = process_cpu_s(running.process.pid)
            client_cpu_before = time.process_time()
            outcome, wall_s = asyncio.run(
                send_all(
                    running.port,
                    workload.frames[:count],
                    workload.ids[:count],
                    senders,
                    policy,
                )
            )
            client_cpu_s = time.process_time() - client_cpu_before
            server_cpu_after = process_cpu_s(running.process.pid)
        finally:
            exit_code = stop(running)
        latencies = sorted(outcome.latencies_s)
        result.update(
            {
                "acknowledged": len(latencies),
                "wall_s": wall_s,
                "messages_per_s": len(latencies) / wall_s if wall_s > 0 else 0.0,
                "p50_ms": percentile_ms(latencies, 50),
                "p99_ms": percentile_ms(latencies, 99),
                "max_ms": percentile_ms(latencies, 100),
                "failures": outcome.failure_count,
                "failure_kinds": dict(outcome.failures),
                "ack_codes": dict(outcome.ack_codes),
                "aborted_after_failures": outcome.aborted,
                "connections": outcome.connections,
                "closed_by_peer_after_ack": outcome.closed_after_ack,
                "warmup_messages": min(args.warmup, len(workload.warmup_frames)),
                "warmup_failures": warmup.failure_count,
                "server_cpu_s": (
                    server_cpu_after - server_cpu_before
                    if server_cpu_before is not None and server_cpu_after is not None
                    else None
                ),
                "client_cpu_s": client_cpu_s,
                "ready_s": running.ready_s,
                "exit_code": exit_code,
                "server_tracebacks": count_tracebacks(running.log_path),
                "server_log_tail": tail(
                    running.log_path.read_text(errors="replace"), 2
                ),
            }
        )
        size = store_size(running.store_path)
        if size is not None:
            result["store_bytes"] = size
    return result


# --- the bulk import ------------------------------------------------------------------------


def run_import(
    roster: Path, patients: Sequence[RosterPatient], args: argparse.Namespace
) -> dict[str, Any]:
    """`fmt-plugin import FILE` on `--import-messages` messages, in a fresh installation."""
    cli = FmtCli(args.fmt_executable)
    count = args.import_messages
    result: dict[str, Any] = {"messages": count, "framing": args.import_framing}
    try:
        cli.require("import")
    except PeerUnavailable as exc:
        result["error"] = str(exc)
        return result
    with tempfile.TemporaryDirectory(prefix="mllp-import-") as tmp:
        workdir = Path(tmp)
        started = time.perf_counter()
        # Another seed than the MLLP runs': other MSH-10s, other patients' draws.
        messages = generate_messages(
            count, patients, args.seed + 1, ack_types=ACK_TYPES[args.ack_mode]
        )
        path = workdir / "messages.hl7"
        result["file_bytes"] = write_messages_file(path, messages, args.import_framing)
        del messages
        result["generation_s"] = time.perf_counter() - started
        try:
            started = time.perf_counter()
            store_path = cli.init(workdir / "installation", roster)
            result["init_s"] = time.perf_counter() - started
        except PeerUnavailable as exc:
            result["error"] = str(exc)
            return result
        config = workdir / "installation" / "fmt.toml"
        command = cli.command(config, "import", *args.import_arg, str(path))
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        try:
            completed = subprocess.run(  # noqa: S603  # our own command line
                command,
                capture_output=True,
                text=True,
                check=False,
                timeout=IMPORT_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            result["error"] = (
                f"`fmt-plugin import` still running after {IMPORT_TIMEOUT_S} s"
            )
            return result
        wall_s = time.perf_counter() - started
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        result.update(
            {
                "exit_code": completed.returncode,
                "wall_s": wall_s,
                "cpu_s": children.ru_utime
                - children_before.ru_utime
                + children.ru_stime
                - children_before.ru_stime,
                "messages_per_s": count / wall_s if wall_s > 0 else 0.0,
                "store_bytes": store_size(store_path),
                "output_tail": tail(completed.stdout + "\n" + completed.stderr, 4),
            }
        )
        if completed.returncode != 0:
            result["error"] = f"`fmt-plugin import` exited {completed.returncode}"
    return result


# --- the whole benchmark --------------------------------------------------------------------


def make_peers(
    names: Sequence[str], roster: Path, args: argparse.Namespace
) -> list[Peer]:
    factories: dict[str, Callable[[], Peer]] = {
        "hl7apy": Hl7apyPeer,
        "python-hl7": lambda: PythonHl7Peer(args.python_hl7_encoding),
        FMT: lambda: FmtPeer(FmtCli(args.fmt_executable), roster),
        "floor-inline": lambda: FloorPeer("inline"),
        "floor-thread": lambda: FloorPeer("thread"),
        "floor-streams": lambda: FloorPeer("streams"),
    }
    return [factories[name]() for name in names]


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Generate the practice, run every peer at every K, then the import; the report."""
    report: dict[str, Any] = {
        "seed": args.seed,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "hl7apy": package_version("hl7apy"),
            "hl7": package_version("hl7"),
            "fmt-plugin": package_version("fmt-plugin"),
        },
        "senders": args.senders,
        "ack_mode": args.ack_mode,
        "runs": [],
        "unavailable": {},
    }
    with tempfile.TemporaryDirectory(prefix="mllp-bench-") as tmp:
        roster = Path(tmp) / "roster.csv"
        started = time.perf_counter()
        patients = generate_patients(args.patients, args.seed)
        write_roster(roster, patients)
        count = max(args.messages, args.hl7apy_messages)
        messages = generate_messages(
            count + args.warmup, patients, args.seed, ack_types=ACK_TYPES[args.ack_mode]
        )
        workload = Workload(
            frames=[frame(m) for m in messages[:count]],
            ids=[message_id(m) for m in messages[:count]],
            warmup_frames=[frame(m) for m in messages[count:]],
            warmup_ids=[message_id(m) for m in messages[count:]],
        )
        report["patients"] = len(patients)
        report["non_ascii_messages"] = sum(not m.isascii() for m in messages[:count])
        report["generation_s"] = time.perf_counter() - started

        peers = []
        for peer in make_peers(args.peers, roster, args):
            try:
                peer.check()
            except PeerUnavailable as exc:
                report["unavailable"][peer.name] = str(exc)
                progress(f"{peer.name}: UNAVAILABLE: {exc}")
            else:
                peers.append(peer)
        every_run: list[dict[str, Any]] = []
        rounds = 0 if args.import_only else args.repeat
        for round_number in range(1, rounds + 1):
            for senders in args.senders:
                for peer in peers:
                    n = args.hl7apy_messages if peer.name == "hl7apy" else args.messages
                    progress(
                        f"{peer.name}, {senders} sender(s), {n} messages"
                        + (f", round {round_number}" if args.repeat > 1 else "")
                        + "…"
                    )
                    result = run_peer(peer, workload, n, senders, args)
                    every_run.append(result)
                    progress("  " + summary_line(result))
        report["runs"] = best_runs(every_run)
        if args.repeat > 1:
            report["every_run"] = every_run
        if args.import_messages > 0 and (FMT in args.peers or args.import_only):
            progress(f"import of {args.import_messages:,} messages…")
            report["import"] = run_import(roster, patients, args)
    report["ratios"] = ratios(report["runs"], args.senders)
    report["goals"] = goals(report)
    return report


def best_runs(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (peer, K), the run with the highest msg/s, with every run's msg/s listed."""
    by_key: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in runs:
        by_key.setdefault((r["peer"], r["senders"]), []).append(r)
    best = []
    for same in by_key.values():
        measured = [r for r in same if "error" not in r]
        chosen = dict(
            max(measured, key=lambda r: r["messages_per_s"]) if measured else same[0]
        )
        chosen["rounds"] = len(same)
        chosen["every_messages_per_s"] = [r.get("messages_per_s") for r in same]
        best.append(chosen)
    return best


def message_id(message: bytes) -> str:
    """MSH-10 of an HL7 message (the generator writes `|` as field separator)."""
    msh = message.split(b"\r", 1)[0].decode("ascii")
    return msh.split("|")[9]


def ratios(runs: Sequence[Mapping[str, Any]], senders: Sequence[int]) -> dict[str, Any]:
    """fmt-plugin's msg/s over each other peer's, at each K (None when one is missing)."""
    rate = {
        (r["peer"], r["senders"]): r["messages_per_s"]
        for r in runs
        if "error" not in r and r.get("messages_per_s")
    }
    out: dict[str, Any] = {}
    for k in senders:
        for other in ("hl7apy", "python-hl7", *FLOOR_PEERS):
            if other in FLOOR_PEERS and (other, k) not in rate:
                continue
            fmt, base = rate.get((FMT, k)), rate.get((other, k))
            out[f"{FMT}/{other}@{k}"] = fmt / base if fmt and base else None
    return out


def goals(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Issue 17's five goals: the value measured and whether it meets the goal."""
    ratio_values = report["ratios"]

    def ratio_goal(other: str, k: int, goal: float) -> dict[str, Any]:
        value = ratio_values.get(f"{FMT}/{other}@{k}")
        return _goal(
            f"fmt-plugin ≥ {goal:g}× {other} msg/s at {k} sender(s)",
            None if value is None else f"{value:.2f}×",
            None if value is None else value >= goal,
        )

    fmt_one = next(
        (
            r
            for r in report["runs"]
            if r["peer"] == FMT and r["senders"] == 1 and "error" not in r
        ),
        None,
    )
    imported = report.get("import", {})
    p99 = fmt_one["p99_ms"] if fmt_one else None
    import_rate = imported.get("messages_per_s") if "error" not in imported else None
    return [
        ratio_goal("hl7apy", 1, GOAL_OVER_HL7APY),
        ratio_goal("python-hl7", 1, GOAL_OVER_PYTHON_HL7_ONE),
        _goal(
            f"fmt-plugin p99 < {GOAL_P99_ONE_SENDER_MS:g} ms at 1 sender",
            None if p99 is None else f"{p99:.2f} ms",
            None if p99 is None else p99 < GOAL_P99_ONE_SENDER_MS,
        ),
        ratio_goal("python-hl7", 8, GOAL_OVER_PYTHON_HL7_EIGHT),
        _goal(
            f"import ≥ {GOAL_IMPORT_PER_S:,.0f} msg/s",
            None if import_rate is None else f"{import_rate:,.0f} msg/s",
            None if import_rate is None else import_rate >= GOAL_IMPORT_PER_S,
        ),
    ]


def _goal(goal: str, measured: str | None, met: bool | None) -> dict[str, Any]:
    return {"goal": goal, "measured": measured, "met": met}


# --- the report -----------------------------------------------------------------------------


def summary_line(result: Mapping[str, Any]) -> str:
    if "error" in result:
        return f"FAILED: {result['error']}"
    return (
        f"{result['messages_per_s']:,.0f} msg/s, p50 {_ms(result['p50_ms'])} ms, "
        f"p99 {_ms(result['p99_ms'])} ms, {result['failures']} failure(s)"
    )


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def format_report(report: Mapping[str, Any]) -> str:
    machine = report["machine"]
    lines = [
        "## MLLP ingestion",
        "",
        (
            f"Machine: {machine['cpus']} CPU(s), {machine['platform']}, "
            f"Python {machine['python']}; hl7apy {machine['hl7apy']}, "
            f"python-hl7 {machine['hl7']}, fmt-plugin {machine['fmt-plugin']}."
        ),
        (
            f"Seed {report['seed']}: {report['patients']:,} patients; "
            f"{report['non_ascii_messages']:,} of the messages are not ASCII "
            f"(accented names); {report['ack_mode']} acknowledgement mode (accepted "
            f"MSA-1: {'/'.join(sorted(ACCEPTED_CODES[report['ack_mode']]))}, from "
            f"fmt-plugin {'/'.join(sorted(accepted_codes(FMT, report['ack_mode'])))})."
        ),
        "",
        "| peer | senders | messages | msg/s | p50 ms | p99 ms | failures | connections |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    notes: list[str] = []
    for r in report["runs"]:
        if "error" in r:
            lines.append(
                f"| {r['peer']} | {r['senders']} | {r['messages']:,} | — | — | — | "
                "did not run | — |"
            )
            notes.append(f"{r['peer']} ({r['senders']} sender(s)): {r['error']}")
            continue
        failures = f"{r['failures']:,}" + (
            " (aborted)" if r["aborted_after_failures"] else ""
        )
        lines.append(
            f"| {r['peer']} | {r['senders']} | {r['messages']:,} | "
            f"{r['messages_per_s']:,.0f} | {_ms(r['p50_ms'])} | {_ms(r['p99_ms'])} | "
            f"{failures} | {r['connections']:,} |"
        )
        notes.extend(_run_notes(r))
    for name, why in report["unavailable"].items():
        notes.append(f"{name}: not run: {why}")
    lines += ["", "fmt-plugin's msg/s over the others' (same K):", ""]
    lines += ["| ratio | value |", "|---|---:|"]
    for key, value in report["ratios"].items():
        lines.append(f"| {key} | {'n/a' if value is None else f'{value:.2f}×'} |")
    if "import" in report:
        lines += ["", *_import_lines(report["import"])]
    lines += ["", "| goal | measured | met |", "|---|---:|---|"]
    for g in report["goals"]:
        met = "not measured" if g["met"] is None else ("yes" if g["met"] else "**no**")
        lines.append(f"| {g['goal']} | {g['measured'] or '—'} | {met} |")
    if notes:
        lines += ["", "Notes:", *(f"- {note}" for note in notes)]
    return "\n".join(lines)


def _run_notes(r: Mapping[str, Any]) -> list[str]:
    where = f"{r['peer']} ({r['senders']} sender(s))"
    notes = []
    if r["rounds"] > 1:
        rates = ", ".join(
            "failed" if rate is None else f"{rate:,.0f}"
            for rate in r["every_messages_per_s"]
        )
        notes.append(f"{where}: best of {r['rounds']} rounds; msg/s of each: {rates}")
    if r["peer"] == "hl7apy":
        notes.append(
            f"{where}: the server closes the connection after each ACK; the senders "
            f"opened {r['connections']:,} connections, one per message, and the latency "
            "includes each connection"
        )
    elif r["closed_by_peer_after_ack"]:
        notes.append(
            f"{where}: the peer closed the connection after an ACK "
            f"{r['closed_by_peer_after_ack']:,} time(s); the senders reconnected"
        )
    if r["server_cpu_s"] is not None and r["acknowledged"]:
        per_message = r["server_cpu_s"] / r["acknowledged"] * 1000
        notes.append(
            f"{where}: CPU during the timed run: server {r['server_cpu_s']:.2f} s "
            f"({per_message:.2f} ms per message), load generator "
            f"{r['client_cpu_s']:.2f} s, wall {r['wall_s']:.2f} s"
        )
    if set(r["ack_codes"]) - {"AA"}:
        codes = ", ".join(f"{code} × {n:,}" for code, n in r["ack_codes"].items())
        notes.append(f"{where}: MSA-1 codes received: {codes}")
    if r["failure_kinds"]:
        kinds = ", ".join(f"{n:,} × {kind}" for kind, n in r["failure_kinds"].items())
        notes.append(f"{where}: failures: {kinds}")
    if r["aborted_after_failures"]:
        notes.append(f"{where}: stopped early after {r['failures']} failures")
    if r["warmup_failures"]:
        notes.append(
            f"{where}: {r['warmup_failures']} of {r['warmup_messages']} warm-up messages "
            "failed"
        )
    if r["server_tracebacks"]:
        notes.append(
            f"{where}: {r['server_tracebacks']} traceback(s) in the server's log, last: "
            f"{r['server_log_tail']}"
        )
    if r["peer"] == FMT:
        size = r.get("store_bytes")
        notes.append(
            f"{where}: ready {r['ready_s']:.2f} s after start; exit code after SIGTERM "
            f"{r['exit_code']}; store "
            + ("not found" if size is None else f"{size / 2**20:,.1f} MiB")
        )
    return notes


def _import_lines(imported: Mapping[str, Any]) -> list[str]:
    title = f"`fmt-plugin import`, {imported['messages']:,} messages in one file"
    if "wall_s" not in imported:
        return [f"{title}: did not run: {imported.get('error', 'unknown error')}"]
    size = imported.get("store_bytes")
    rows = [
        ("file", f"{imported['file_bytes'] / 2**20:,.1f} MiB ({imported['framing']})"),
        ("generation (not timed)", f"{imported['generation_s']:.1f} s"),
        ("init with the roster (not timed)", f"{imported['init_s']:.1f} s"),
        ("import wall time", f"{imported['wall_s']:.1f} s"),
        ("import CPU time (user + system)", f"{imported['cpu_s']:.1f} s"),
        ("msg/s", f"{imported['messages_per_s']:,.0f}"),
        ("exit code", str(imported["exit_code"])),
        (
            "store after import",
            "not found" if size is None else f"{size / 2**20:,.1f} MiB",
        ),
        ("output (last lines)", imported["output_tail"].replace("|", "\\|")),
    ]
    return [
        title,
        "",
        "| measure | value |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in rows),
    ]


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# --- command line ---------------------------------------------------------------------------


def _int_list(text: str) -> list[int]:
    values = [int(item) for item in text.split(",") if item.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("expected positive integers, e.g. 1,8")
    return values


def _peer_list(text: str) -> list[str]:
    names = [item.strip() for item in text.split(",") if item.strip()]
    unknown = [name for name in names if name not in PEERS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown peer(s) {', '.join(unknown)}; choose among {', '.join(PEERS)}"
        )
    return names


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--messages",
        type=int,
        default=DEFAULT_MESSAGES,
        help=f"messages per run for python-hl7 and fmt-plugin (default {DEFAULT_MESSAGES:,})",
    )
    parser.add_argument(
        "--hl7apy-messages",
        type=int,
        default=DEFAULT_HL7APY_MESSAGES,
        help=f"messages per run for hl7apy (default {DEFAULT_HL7APY_MESSAGES})",
    )
    parser.add_argument(
        "--senders",
        type=_int_list,
        default=list(DEFAULT_SENDERS),
        help="concurrent senders, one run per value (default 1,8)",
    )
    parser.add_argument(
        "--peers",
        type=_peer_list,
        default=list(DEFAULT_PEERS),
        help=(
            f"peers to run, comma-separated (default {','.join(DEFAULT_PEERS)}; "
            f"also {', '.join(FLOOR_PEERS)}: see durable_floor.py)"
        ),
    )
    parser.add_argument(
        "--import-messages",
        type=int,
        default=DEFAULT_IMPORT_MESSAGES,
        help=f"messages of the `fmt-plugin import` run (0: skip; default "
        f"{DEFAULT_IMPORT_MESSAGES:,})",
    )
    parser.add_argument(
        "--import-framing",
        choices=("mllp", "lines"),
        default="mllp",
        help="the import file: MLLP frames, or messages separated by \\r\\n",
    )
    parser.add_argument(
        "--import-only",
        action="store_true",
        help="run the `fmt-plugin import` benchmark only (no MLLP run)",
    )
    parser.add_argument(
        "--import-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="an argument added to `fmt-plugin import` (repeatable), e.g. "
        "--import-arg=--workers=0",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds of every (peer, senders) run; the best msg/s is reported "
        "(default 1)",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--patients",
        type=int,
        default=DEFAULT_PATIENTS,
        help=f"roster size (default {DEFAULT_PATIENTS:,})",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=DEFAULT_WARMUP,
        help=f"untimed messages sent to each fresh peer first (default {DEFAULT_WARMUP})",
    )
    parser.add_argument(
        "--ack-timeout",
        type=float,
        default=DEFAULT_ACK_TIMEOUT_S,
        help=f"seconds to wait for an ACK before counting a failure (default "
        f"{DEFAULT_ACK_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--max-failures",
        type=int,
        default=DEFAULT_MAX_FAILURES,
        help=f"stop a run after this many failures (default {DEFAULT_MAX_FAILURES})",
    )
    parser.add_argument(
        "--ack-mode",
        choices=tuple(ACCEPTED_CODES),
        default="original",
        help="original: MSH-15/16 empty, AA expected (default); enhanced: MSH-15/16 "
        "AL/NE as in the public scenario's messages, CA expected (AA tolerated from "
        "the other peers, not from fmt-plugin)",
    )
    parser.add_argument(
        "--python-hl7-encoding",
        default="utf-8",
        help="python-hl7's decoding (default utf-8; the library's own default is ascii)",
    )
    parser.add_argument(
        "--fmt-executable",
        type=Path,
        default=default_fmt_executable(),
        help="the fmt-plugin command (default: the one next to this Python)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    # Internal: how this script runs a third-party server in its own subprocess.
    parser.add_argument("--serve-peer", choices=PEERS[:2], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_peer == "hl7apy":
        serve_hl7apy(args.port)
        return 0
    if args.serve_peer == "python-hl7":
        serve_python_hl7(args.port, args.python_hl7_encoding)
        return 0
    report = run(args)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
