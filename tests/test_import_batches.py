"""`import` in batches: files read in chunks, batches committed before they are reported."""

from __future__ import annotations

import io
import os
import select
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PUBLIC_SCENARIO, cli

from fmt_plugin.bulk_import import read_messages
from fmt_plugin.hl7.batch import split_messages
from fmt_plugin.views.french import number

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "hl7-corpus"
TEMPLATE = (PUBLIC_SCENARIO / "messages" / "q06_hba1c.hl7").read_bytes()
BOM = b"\xef\xbb\xbf"


def numbered(n: int) -> bytes:
    """The scenario's HbA1c message with MSH-10 `IMP<n>`: a distinct message each."""
    return TEMPLATE.replace(b"|H00042|", f"|IMP{n:06d}|".encode())


def chunked(data: bytes, chunk_bytes: int) -> list[tuple[bytes, int]]:
    stream = io.BytesIO(data)
    head = stream.read(7)
    return [
        (raw.data, raw.line)
        for raw, _ in read_messages(stream, head, chunk_bytes=chunk_bytes)
    ]


def whole(data: bytes) -> list[tuple[bytes, int]]:
    return [(raw.data, raw.line) for raw in split_messages(data)]


FILES = {
    "mllp frames": b"".join(b"\x0b" + numbered(i) + b"\x1c\r" for i in range(6)),
    "lf lines": b"".join(numbered(i).replace(b"\r", b"\n") + b"\n" for i in range(6)),
    "crlf and blanks": b"\r\n\r\n".join(
        numbered(i).replace(b"\r", b"\r\n") for i in range(6)
    ),
    "concatenated with boms": b"".join(BOM + numbered(i) for i in range(6)),
    "batch envelope": b"FHS|^~\\&\rBHS|^~\\&\r"
    + b"".join(numbered(i) for i in range(6))
    + b"BTS|6\rFTS|1\r",
    "junk between": b"junk\r" + numbered(1) + b"\x0bnot hl7\x1c\r" + numbered(2),
    "no break before msh": b"PID|MSH|x\r" + numbered(1) + b"OBX|1|ST|MSH\r",
}


@pytest.mark.parametrize("name", sorted(FILES))
@pytest.mark.parametrize("chunk_bytes", [1, 5, 64, 333, 4096])
def test_chunked_reading_gives_the_messages_and_lines_of_the_whole_file(
    name, chunk_bytes
):
    """Chunked reading gives the messages and lines of the whole file."""
    data = FILES[name]
    assert chunked(data, chunk_bytes) == whole(data)


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"third-party corpus absent: {CORPUS}")
def test_chunked_reading_of_the_corpus_gives_the_messages_of_the_whole_files():
    """Chunked reading of the corpus gives the messages of the whole files."""
    for path in sorted(CORPUS.rglob("*")):
        if path.is_file() and path.name not in ("INDEX.tsv", "MANIFEST.md"):
            data = path.read_bytes()
            assert chunked(data, 97) == whole(data), path


def stored(store: Path) -> tuple[int, int, int]:
    """Messages stored, distinct digests among them, duplicates counted."""
    with sqlite3.connect(store) as conn:
        count, distinct, duplicates = conn.execute(
            "SELECT count(*), count(DISTINCT digest), coalesce(sum(duplicates), 0)"
            " FROM hl7_messages"
        ).fetchone()
    return count, distinct, duplicates


@pytest.mark.parametrize("workers", [0, 1])
def test_an_import_killed_after_a_batch_keeps_it_and_runs_again_to_the_end(
    tmp_path, workers
):
    """An import killed after a batch keeps it and runs again to the end."""
    init = cli(tmp_path, "init", "inst", "--roster", PUBLIC_SCENARIO / "roster.csv")
    assert init.returncode == 0, init.stderr
    config = tmp_path / "inst" / "fmt.toml"
    total = 6000
    messages = tmp_path / "messages.hl7"
    messages.write_bytes(b"".join(numbered(i) for i in range(total)))
    command = [sys.executable, "-m", "fmt_plugin", "--config", str(config)]
    batch = ["import", "--batch-size", "100", "--workers", str(workers)]
    env = {k: v for k, v in os.environ.items() if k != "FMT_CONFIG"}
    with subprocess.Popen(
        [*command, *batch, str(messages)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env=env,
    ) as process:
        try:
            first = reported(process)
            workers_started = children(process.pid)
            process.send_signal(signal.SIGKILL)
        finally:
            process.kill()
    assert first == "fmt-plugin : 100 messages importés et enregistrés"
    assert len(workers_started) == workers
    for pid in workers_started:
        assert exits(pid), f"worker {pid} outlived the killed import"
    store = tmp_path / "inst" / "fmt.sqlite3"
    kept, _, _ = stored(store)
    assert 100 <= kept < total  # what was reported, and the import had not finished

    again = cli(tmp_path, "--config", config, *batch, messages)

    assert again.returncode == 0, again.stderr
    assert f"doublons        : {number(kept)} " in again.stdout
    assert stored(store) == (total, total, kept)


def reported(process: subprocess.Popen[bytes]) -> str:
    """The first progress line the import prints on its standard error."""
    assert process.stderr is not None
    for line in process.stderr:
        text = line.decode().strip()
        if "importés" in text:
            return text
    return ""


def children(pid: int) -> list[int]:
    """The processes `pid` started (Linux /proc)."""
    found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in found]


def exits(pid: int, timeout_s: float = 30) -> bool:
    """Whether process `pid` (not our child) ends within `timeout_s`."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([fd], [], [], timeout_s)
        return bool(readable)
    finally:
        os.close(fd)
