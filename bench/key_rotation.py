"""Key rotation on the demo practice: sliced re-encryption against one big transaction.

Both re-encrypt every value of a copy of the demo store under a new data key. Meanwhile another
connection commits a tiny write every few milliseconds, as the HL7 listener commits a message
before its ACK; its commit latencies show what the rotation makes a sender wait.

    python bench/key_rotation.py                    # builds the demo once in ./bench-work
    python bench/key_rotation.py --slice-rows 100   # another slice size

The peer is the obvious design: one transaction re-encrypting everything. It is as fast, but
holds SQLite's write lock for the whole rotation, so every message waits that long for its ACK
(and past the busy timeout, is refused).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from fmt_plugin.config import FmtConfig, load_config
from fmt_plugin.key_rotation import SLICE_PAUSE_S
from fmt_plugin.storage import Store, add_data_key, load_key_file

WRITE_EVERY_S = 0.005


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("bench-work"))
    parser.add_argument("--slice-rows", type=int, default=500)
    args = parser.parse_args()
    demo = ensure_demo(args.work / "demo")
    rows = [
        run(
            "fmt-plugin, tranches",
            demo,
            args.work / "sliced",
            args.slice_rows,
            SLICE_PAUSE_S,
        ),
        run("une seule transaction", demo, args.work / "single", 10**9, 0.0),
    ]
    print(f"{'':24} {'valeurs':>8} {'durée s':>8} {'val/s':>8} {'écrit p50 ms':>13}"
          f" {'p99 ms':>8} {'max ms':>8}")  # fmt: skip
    for name, values, seconds, waits in rows:
        print(
            f"{name:24} {values:8d} {seconds:8.2f} {values / seconds:8.0f}"
            f" {rank(waits, 0.5) * 1000:13.1f} {rank(waits, 0.99) * 1000:8.1f}"
            f" {max(waits) * 1000:8.1f}"
        )


def rank(values: list[float], share: float) -> float:
    """The nearest-rank quantile (no extrapolation past the largest value)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def ensure_demo(folder: Path) -> Path:
    """The demo practice (built once; about 30 s)."""
    if not (folder / "fmt.toml").exists():
        subprocess.run(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-m", "fmt_plugin", "demo", str(folder), "--once",
             "--as-of", "2026-06-01", "--mllp-port", "0", "--http-port", "0"],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    return folder


def run(
    name: str, demo: Path, folder: Path, slice_rows: int, pause_s: float
) -> tuple[str, int, float, list[float]]:
    """Re-encrypt a copy of the demo as the service's worker does: slices, a pause between."""
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(demo, folder)
    config = load_config(folder / "fmt.toml")
    keyring = add_data_key(config.store.key_file)
    stop = threading.Event()
    waits: list[float] = []
    writer = threading.Thread(target=write_until, args=(config, stop, waits))
    with Store.open(config.store.path, keyring) as store:
        writer.start()
        started = time.perf_counter()
        values = 0
        while done := store.reencrypt_slice(limit=slice_rows, actor="bench"):
            values += done
            time.sleep(pause_s)
        seconds = time.perf_counter() - started
        stop.set()
        writer.join()
    return name, values, seconds, waits


def write_until(config: FmtConfig, stop: threading.Event, waits: list[float]) -> None:
    keyring = load_key_file(config.store.key_file)
    with Store.open(config.store.path, keyring) as store:
        while not stop.is_set():
            started = time.perf_counter()
            store.write_health_probe(datetime.now(UTC))
            waits.append(time.perf_counter() - started)
            time.sleep(WRITE_EVERY_S)


if __name__ == "__main__":
    main()
