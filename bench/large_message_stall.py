"""What a small message waits for its ACK while another sender's very large ORU is processed.

One connection sends a single ORU with `--results` OBX (250,000: about 20 MB); meanwhile
another connection sends small ORUs one after the other, each waiting for its ACK. The report
gives the large message's time to ACK and the small messages' ACK latencies during it.

    python bench/large_message_stall.py                          # this checkout
    python bench/large_message_stall.py --peer before=/tmp/old   # and another checkout, side by side

`--peer NAME=PATH` runs `python -m fmt_plugin` with PATH first on PYTHONPATH (a `git worktree`
of an older commit), so two versions are measured on the same machine, the same messages.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from fmt_plugin.mllp.framing import END_BLOCK, frame

ROOT = Path(__file__).resolve().parents[1]
ROSTER = ROOT / "tests" / "data" / "public_scenario" / "roster.csv"
LISTENING = re.compile(rb"listening for HL7 \(MLLP[^)]*\) on ([\d.]+):(\d+)")
HEADER = (
    "MSH|^~\\&|LABO|BIOLAB|FMT|CABINET|20260620101500||ORU^R01^ORU_R01|{control}|P|2.5"
    "|||||FRA|UNICODE UTF-8\r"
    "PID|1||271020905620548^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS"
    "~Q05^^^CABINET&1.2.250.1.999.1&ISO^PI||ROLLAND^SOPHIE^^^^^L||19710214|F\r"
    "OBR|1|CMD39|RES39|^BILAN^L|||202401100800\r"
)
OBX = "OBX|{n}|NM|1558-6^^LN|{n}|1.01|g/L|||||F\r"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=int, default=250_000)
    parser.add_argument("--work", type=Path, default=Path("bench-work/stall"))
    parser.add_argument("--peer", action="append", default=[], metavar="NAME=PATH")
    args = parser.parse_args()
    peers = [("this checkout", ROOT)] + [
        (name, Path(path)) for name, path in (p.split("=", 1) for p in args.peer)
    ]
    large = message("LARGE", args.results)
    print(f"large message: {args.results} OBX, {len(large) / 1e6:.1f} MB")
    print(f"{'':16} {'large ACK s':>12} {'small n':>8} {'p50 ms':>8} {'max ms':>9}")
    for name, path in peers:
        large_s, waits = run(path, args.work / name.replace(" ", "-"), large)
        ordered = sorted(waits) or [0.0]
        print(
            f"{name:16} {large_s:12.2f} {len(waits):8d}"
            f" {ordered[len(ordered) // 2] * 1000:8.1f} {ordered[-1] * 1000:9.1f}"
        )


def message(control: str, results: int) -> bytes:
    body = "".join(OBX.format(n=n) for n in range(1, results + 1))
    return (HEADER.format(control=control) + body).encode()


def run(pythonpath: Path, folder: Path, large: bytes) -> tuple[float, list[float]]:
    """Serve a fresh practice with `pythonpath`'s fmt-plugin; send the large one and small ones."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    # Run from the work folder: `python -m` puts the current folder first on sys.path, so
    # from a checkout it would import that checkout, whatever PYTHONPATH says.
    cwd = folder.parent
    fmt = [sys.executable, "-m", "fmt_plugin"]
    subprocess.run(  # noqa: S603 - our interpreter, our arguments
        [*fmt, "init", str(folder), "--roster", str(ROSTER)],
        env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    server = subprocess.Popen(  # noqa: S603
        [*fmt, "--config", str(folder / "fmt.toml"), "serve", "--mllp-port", "0",
         "--http-port", "0"],
        env=env, cwd=cwd, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        address = listening(server)
        return measure(address, large)
    finally:
        server.terminate()
        server.wait(timeout=60)


def listening(server: subprocess.Popen[bytes]) -> tuple[str, int]:
    if server.stderr is None:
        raise SystemExit("serve started without its standard error")
    for line in server.stderr:
        if match := LISTENING.search(line):
            threading.Thread(target=server.stderr.read, daemon=True).start()
            return match.group(1).decode(), int(match.group(2))
    raise SystemExit("serve did not start")


def measure(address: tuple[str, int], large: bytes) -> tuple[float, list[float]]:
    done = threading.Event()
    waits: list[float] = []

    def small_sender() -> None:
        with socket.create_connection(address, timeout=600) as client:
            n = 0
            while not done.is_set():
                n += 1
                started = time.perf_counter()
                client.sendall(frame(message(f"S{n}", 1)))
                read_ack(client)
                # The last one too: it may be the one that waited behind the large one.
                waits.append(time.perf_counter() - started)

    with socket.create_connection(address, timeout=600) as client:
        started = time.perf_counter()
        client.sendall(frame(large))
        sender = threading.Thread(target=small_sender)
        sender.start()
        read_ack(client)
        large_s = time.perf_counter() - started
        done.set()
        sender.join()
    return large_s, waits


def read_ack(client: socket.socket) -> bytes:
    answer = b""
    while not answer.endswith(END_BLOCK):
        chunk = client.recv(65536)
        if not chunk:
            raise SystemExit("connection closed without an ACK")
        answer += chunk
    return answer


if __name__ == "__main__":
    main()
