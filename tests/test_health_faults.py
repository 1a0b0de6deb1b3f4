"""`/health` under real store faults: a full disk (tmpfs), a file system gone read-only (ext4).

The installation lives on a file system mounted for the test (we run as root); a test is
skipped, saying why, only where mounting is not permitted. A message refused while the store
cannot commit gets no ACK, so its sender resends it: it is stored once space is back.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import PUBLIC_SCENARIO, cli
from service_process import Server, start_server

from fmt_plugin.storage import KeyRing, Store
from fmt_plugin.store_writable import StoreWritability
from fmt_plugin.timezone import PARIS

START, END = b"\x0b", b"\x1c\r"
#: A lab report with its PDF: bigger than what SQLite's WAL file can reuse in place.
PDF_BYTES = 3 * 1024 * 1024


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False)


def mount_or_skip(*command: str) -> None:
    done = run(*command)
    if done.returncode != 0:
        pytest.skip(f"montage impossible ici ({' '.join(command)}) : {done.stderr}")


def unmount(folder: Path) -> None:
    if run("umount", str(folder)).returncode != 0:
        run("umount", "-l", str(folder))


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 32 MB tmpfs of its own, unmounted after the test."""
    folder = tmp_path / f"disk-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    mount_or_skip(
        "mount", "-t", "tmpfs", "-o", "size=32m,mode=0700", "tmpfs", str(folder)
    )
    yield folder
    unmount(folder)


@pytest.fixture
def ext4_disk(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """An ext4 file system on a loop device (`errors=remount-ro`); its folder and device."""
    if not (shutil.which("losetup") and shutil.which("mkfs.ext4")):
        pytest.skip("losetup et mkfs.ext4 absents : pas de disque ext4 de test")
    image = tmp_path / "disk.img"
    with image.open("wb") as handle:
        handle.truncate(64 * 1024 * 1024)
    assert run("mkfs.ext4", "-q", "-F", str(image)).returncode == 0
    attached = run("losetup", "-f", "--show", str(image))
    if attached.returncode != 0:
        pytest.skip(f"périphérique loop indisponible : {attached.stderr}")
    device = attached.stdout.strip()
    folder = tmp_path / f"ext4-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    try:
        mount_or_skip("mount", "-o", "errors=remount-ro", device, str(folder))
        yield folder, device
        unmount(folder)
    finally:
        run("losetup", "-d", device)


def installation_on(disk: Path, *, min_free_mb: int) -> Path:
    """`fmt-plugin init` with the whole installation on `disk`; returns its fmt.toml."""
    done = cli(disk, "init", "inst", "--roster", PUBLIC_SCENARIO / "roster.csv")
    assert done.returncode == 0, done.stderr
    config = disk / "inst" / "fmt.toml"
    text = config.read_text("utf-8").replace(
        "[store]\n", f"[store]\nmin_free_mb = {min_free_mb}\n", 1
    )
    config.write_text(text, "utf-8")
    return config


def fill(disk: Path) -> Path:
    """Write a file until the file system has no byte left; returns it."""
    filler = disk / "filler"
    chunk = b"\0" * (1024 * 1024)
    with filler.open("wb", buffering=0) as handle:
        while chunk:
            try:
                handle.write(chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                chunk = chunk[: len(chunk) // 2] if len(chunk) > 512 else b""
    assert os.statvfs(disk).f_bavail == 0
    return filler


def health(server: Server) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(server.status_url + "/health", timeout=30) as r:  # noqa: S310
            return r.status, json.load(r)
    except urllib.error.HTTPError as refused:
        return refused.code, json.load(refused)


def status(server: Server) -> dict[str, Any]:
    with urllib.request.urlopen(server.status_url + "/status", timeout=30) as r:  # noqa: S310
        body: dict[str, Any] = json.load(r)
        return body


def report_with_pdf(control_id: str) -> bytes:
    """An ORU^R01 with a result and its report as a base64 PDF (OBX-5 of type ED)."""
    pdf = ("JVBERi0xLjQK" * (PDF_BYTES // 12))[:PDF_BYTES]
    segments = [
        (
            "MSH|^~\\&|LABO|BIOLAB|FMT|CABINET|20260620101500||ORU^R01^ORU_R01|"
            f"{control_id}|P|2.5"
        ),
        "PID|1||148080905620659^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS",
        f"OBR|1|CMD|{control_id}|^BILAN^L|||202509160800",
        "OBX|1|NM|4548-4^HbA1c^LN||7.4|%|||||F|||202509160800",
        f"OBX|2|ED|CR^Compte rendu^L||^AP^PDF^Base64^{pdf}||||||F",
    ]
    return ("\r".join(segments) + "\r").encode("ascii")


def send(server: Server, message: bytes) -> bytes:
    """One MLLP frame on a new connection; its ACK, or b"" if closed without one."""
    with socket.create_connection((server.host, server.port), timeout=60) as sock:
        sock.sendall(START + message + END)
        answer = b""
        while not answer.endswith(END):
            chunk = sock.recv(65536)
            if not chunk:
                return b""
            answer += chunk
    return answer


def ack_code(ack: bytes) -> str:
    (msa,) = [s for s in ack.strip(START + END).split(b"\r") if s.startswith(b"MSA")]
    return msa.split(b"|")[1].decode()


def stored(config: Path, control_id: str) -> bool:
    with closing(sqlite3.connect(config.parent / "fmt.sqlite3")) as conn:
        row = conn.execute(
            "SELECT 1 FROM hl7_messages WHERE control_id = ?", (control_id,)
        ).fetchone()
    return row is not None


@pytest.fixture
def full_disk_server(small_disk: Path, tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    config = installation_on(small_disk, min_free_mb=0)  # SQLite alone must tell
    server = start_server(config, tmp_path)
    yield server, config
    server.stop()


@pytest.mark.slow
def test_health_is_503_disque_plein_once_a_message_got_sqlite_full(
    full_disk_server: tuple[Server, Path], small_disk: Path
) -> None:
    server, config = full_disk_server
    assert health(server)[0] == 200
    fill(small_disk)
    assert send(server, report_with_pdf("FULL1")) == b""  # no ACK: the sender resends
    code, body = health(server)
    assert code == 503
    assert body["controles"]["base_inscriptible"] is False
    assert body["controles"]["base"] is True  # it still answers reads
    (motif,) = body["motifs"]
    assert motif.startswith("base non inscriptible : disque plein, depuis ")
    assert status(server)["base"]["inscriptible"] is False
    assert not stored(config, "FULL1")


@pytest.mark.slow
def test_a_message_refused_on_a_full_disk_is_stored_when_resent_with_space_back(
    full_disk_server: tuple[Server, Path], small_disk: Path
) -> None:
    server, config = full_disk_server
    filler = fill(small_disk)
    message = report_with_pdf("FULL2")
    assert send(server, message) == b""
    filler.unlink()
    assert ack_code(send(server, message)) == "AA"
    assert stored(config, "FULL2")
    code, body = health(server)
    assert (code, body["etat"]) == (200, "ok")
    store_state = status(server)["base"]
    assert (store_state["inscriptible"], store_state["motif"]) == (True, None)
    assert store_state["espace_libre_mo"] > 0


@pytest.mark.slow
def test_health_is_503_when_free_space_falls_under_min_free_mb_and_200_once_freed(
    small_disk: Path, tmp_path: Path
) -> None:
    config = installation_on(small_disk, min_free_mb=4)
    server = start_server(config, tmp_path)
    try:
        filler = fill(small_disk)
        code, body = health(server)
        assert code == 503
        (motif,) = body["motifs"]
        assert motif == (
            "base non inscriptible : disque plein"
            " (0 Mo libres, seuil store.min_free_mb = 4 Mo)"
        )
        filler.unlink()
        assert health(server)[0] == 200
    finally:
        server.stop()


@pytest.mark.slow
def test_health_is_503_lecture_seule_when_the_file_system_turns_read_only(
    ext4_disk: tuple[Path, str], tmp_path: Path
) -> None:
    """ext4 remounts itself read-only on a disk error, under the open store.

    `mount -o remount,ro` is refused while SQLite holds the store open for writing (the
    kernel answers EBUSY), so the fault is the one a practice meets: the kernel's own
    remount after an error, injected through ext4's `trigger_fs_error`. It lasts until the
    file system is checked and mounted again: no recovery without a restart to test here.
    """
    folder, device = ext4_disk
    config = installation_on(folder, min_free_mb=0)
    server = start_server(config, tmp_path)
    try:
        # No health check before the fault: the first one commits its heartbeat.
        trigger = Path("/sys/fs/ext4") / Path(device).name / "trigger_fs_error"
        trigger.write_text("fmt-plugin test: disk error\n")
        code, body = health(server)
        assert code == 503
        (motif,) = body["motifs"]
        assert motif.startswith("base non inscriptible : lecture seule, depuis ")
        assert send(server, report_with_pdf("RO1")) == b""
    finally:
        server.stop()


def test_a_health_check_every_second_commits_at_most_once_per_interval(
    store_path: Path, keyring: KeyRing
) -> None:
    """Twenty checks over ten seconds of a monotonic clock: two heartbeat commits."""
    commits: list[datetime] = []
    seconds = [0.0]

    with Store.create(store_path, keyring, actor="test") as store:

        async def on_store_thread(function: Any) -> None:
            commits.append(datetime.now(PARIS))
            function()

        check = StoreWritability(
            store,
            0,
            on_store_thread,
            lambda: None,
            monotonic=lambda: seconds[0],
            interval_s=5.0,
        )

        async def twenty_checks() -> None:
            for _ in range(20):
                assert await check.problem() is None
                seconds[0] += 0.5

        asyncio.run(twenty_checks())
        assert len(commits) == 2
        with closing(sqlite3.connect(store_path)) as conn:
            (written,) = conn.execute("SELECT written_at FROM health_probe").fetchone()
        assert written
