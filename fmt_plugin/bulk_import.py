"""Import HL7 files through the ingest pipeline: walk paths, split messages, commit in batches.

Same pipeline as the MLLP listener (dedupe, patient matching, quarantine), so a message imported
twice, or imported after it arrived over MLLP, is stored once. Batches of messages share one
transaction: durable like the listener, without one fsync per message. A batch is reported
(`progress`) only once committed, so a crash loses nothing reported, and running the same
import again finds what was committed as duplicates and imports the rest.

Files are read in chunks cut at message boundaries: memory holds a few batches, never a whole
file. Parsing (CPU only) may run in forked worker processes while this one commits the batch
before (`worker_preparer`): on two cores the commit and the parsing then overlap.

A file that does not start like HL7 v2 (a PDF, a spreadsheet, a CSV dropped in the folder) is
not split into messages at all: each of its lines would be quarantined as junk. It is counted
as one file, `rejected` when it was named on the command line, `skipped` when found in a folder.
"""

from __future__ import annotations

import gc
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from collections import Counter, deque
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

import pluggy

from fmt_plugin.errors import InputError
from fmt_plugin.hl7.batch import RawMessage, split_messages
from fmt_plugin.hl7.er7 import UTF8_BOM
from fmt_plugin.ingest import (
    Disposition,
    Incoming,
    Ingestor,
    IngestOutcome,
    PreparedMessage,
)

#: Messages per transaction: the commit's fsync and statements amortised over thousands.
BATCH_SIZE = 2000
#: Batches between two full collections of the cyclic garbage collector.
FULL_COLLECTION_EVERY = 25
#: Bytes read from a file at a time (a chunk grows to hold a message larger than this).
CHUNK_BYTES = 4 * 2**20
#: What may come before the first segment of an HL7 file: blanks, MLLP start blocks, BOMs.
_LEADING_BLANKS = b" \t\r\n\f\x0b"
#: The segments an HL7 v2 file starts with: a message, or a batch envelope.
_FIRST_SEGMENTS = (b"MSH", b"FHS", b"BHS")
#: How far into a file its first segment is looked for.
_SNIFF_BYTES = 64 * 1024
_SIGNATURES = (
    (b"%PDF", "document PDF"),
    (b"PK\x03\x04", "archive ZIP (classeur Excel, document Word…)"),
    (b"\xd0\xcf\x11\xe0", "document Office (.xls, .doc)"),
    (b"<?xml", "document XML (CDA ? à importer autrement)"),
)


@dataclass
class ImportSummary:
    """What an import did, in message counts; `reasons` counts quarantine reasons."""

    files: int = 0
    messages: int = 0
    accepted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    events: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)  # reason → first origin
    unreadable: list[tuple[Path, str]] = field(default_factory=list)
    #: Files found in a folder that are not HL7, with what they look like.
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    #: Files named on the command line that are not HL7.
    rejected: list[tuple[Path, str]] = field(default_factory=list)

    def add(self, incoming: Incoming, outcome: IngestOutcome) -> None:
        """Count one message's outcome."""
        self.messages += 1
        if outcome.disposition is Disposition.ACCEPTED:
            self.accepted += 1
            self.events += len(outcome.events)
        elif outcome.disposition is Disposition.DUPLICATE:
            self.duplicates += 1
        else:
            self.quarantined += 1
            reason = outcome.rejection.reason if outcome.rejection else "?"
            self.reasons[reason] += 1
            self.examples.setdefault(reason, incoming.origin)


#: Called with (bytes read so far, total bytes, messages so far).
Progress = Callable[[int, int, int], None]


def input_files(paths: Sequence[Path]) -> list[Path]:
    """The files named, and the files under the folders named (sorted, hidden ones skipped).

    Raises InputError naming the first path that does not exist.
    """
    files: list[Path] = []
    for path in paths:
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files.extend(_walk(path))
        else:
            raise InputError("fichier ou dossier introuvable", path=path)
    return files


def _walk(folder: Path) -> Iterator[Path]:
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if not name.startswith("."):
                yield Path(root) / name


class Preparer(Protocol):
    """Parses batches, possibly ahead: `submit` a batch, later `result` gives it back read."""

    def submit(self, batch: list[Incoming]) -> Future[list[PreparedMessage]]:
        """Start preparing `batch`; the future's result: `Ingestor.prepare` of each."""
        ...


class InProcessPreparer:
    """Prepares each batch here, when submitted (one core, or an adapter rewrites messages)."""

    def __init__(self, ingestor: Ingestor) -> None:
        self._ingestor = ingestor

    def submit(self, batch: list[Incoming]) -> Future[list[PreparedMessage]]:
        """Prepare `batch` now; the future is already done."""
        future: Future[list[PreparedMessage]] = Future()
        future.set_result([self._ingestor.prepare(incoming) for incoming in batch])
        return future


#: The forked workers' ingestor: inherited from the parent, which set it before the fork.
_worker_ingestor: Ingestor | None = None


@contextmanager
def worker_preparer(
    ingestor: Ingestor, pm: pluggy.PluginManager, workers: int
) -> Iterator[Preparer]:
    """Within, batches are parsed by `workers` forked processes (in process when 0).

    `pm` is the installation's plugin manager, the one `ingestor` calls.

    Start it before any other thread (the WAL checkpointer): the workers are forked at
    once, and a fork copies no thread, only the locks they held. Parsing elsewhere is done
    in process too when an adapter rewrites messages (its hook may keep state or a
    connection of this process) or when the platform cannot fork. On leaving, the workers
    are stopped; they also exit by themselves if this process dies (kill -9).
    """
    methods = multiprocessing.get_all_start_methods()
    rewrites = bool(pm.hook.fmt_hl7_received.get_hookimpls())
    if workers <= 0 or rewrites or "fork" not in methods:
        yield InProcessPreparer(ingestor)
        return
    global _worker_ingestor  # handed to the forked workers by the fork itself
    _worker_ingestor = ingestor
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_start_worker,
    )
    try:
        pool.submit(_ready).result()  # forks every worker now, before other threads
        yield _PoolPreparer(pool)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        _worker_ingestor = None


class _PoolPreparer:
    def __init__(self, pool: ProcessPoolExecutor) -> None:
        self._pool = pool

    def submit(self, batch: list[Incoming]) -> Future[list[PreparedMessage]]:
        return self._pool.submit(_prepare_in_worker, batch)


def _start_worker() -> None:
    # Ctrl-C reaches the whole process group: the parent stops the import, not each worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # As in the parent (see _collecting_between_batches): one collection per batch.
    gc.disable()
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(
            target=_exit_with_parent, args=(parent.sentinel,), daemon=True
        ).start()


def _exit_with_parent(sentinel: int) -> None:
    # The sentinel becomes readable when the parent is gone, even killed with SIGKILL:
    # a worker left waiting for work would otherwise live on.
    multiprocessing.connection.wait([sentinel])
    os._exit(1)


def _ready() -> None:
    """A no-op that makes the pool start its workers."""


def _prepare_in_worker(batch: list[Incoming]) -> list[PreparedMessage]:
    if _worker_ingestor is None:
        raise RuntimeError("import worker started without an ingestor")
    gc.collect()  # what is alive now is this process's own, the last batch is gone
    prepared = [_worker_ingestor.prepare(incoming) for incoming in batch]
    for item in prepared:
        # The parse tree is not needed to commit, and is the dearest part to send back.
        item.message = None
    return prepared


@dataclass
class _Batch:
    """Messages read together, and how many input bytes had been read after them."""

    messages: list[Incoming]
    done: int


def import_files(
    ingestor: Ingestor,
    files: Sequence[Path],
    *,
    named: Collection[Path] = (),
    progress: Progress | None = None,
    batch_size: int = BATCH_SIZE,
    preparer: Preparer | None = None,
) -> ImportSummary:
    """Ingest every message of `files`; a file that cannot be read is listed, not fatal.

    A file that is not HL7 (see `not_hl7`) is listed as rejected when it is in `named` (the
    files the user named), as skipped otherwise; none of its bytes reach the pipeline.
    `progress` is called after each batch's commit, never before: what it counts is in the
    store. `preparer` parses the batches (default: here, one after the other); a few
    batches are read ahead of the commit, no more.
    """
    summary = ImportSummary()
    total = sum(_size(path) for path in files)
    prepare = preparer or InProcessPreparer(ingestor)
    pending: deque[tuple[_Batch, Future[list[PreparedMessage]]]] = deque()
    # Enough batches in flight to keep every worker busy while this process commits.
    ahead = 2 if preparer is None else 3

    def commit_oldest() -> None:
        batch, future = pending.popleft()
        prepared = future.result()
        outcomes = ingestor.commit(prepared, acknowledge=False)
        for item, outcome in zip(prepared, outcomes, strict=True):
            summary.add(item.incoming, outcome)
        if progress is not None:
            progress(batch.done, total, summary.messages)

    with _collecting_between_batches() as collect:
        try:
            for batch in _batches(files, named, summary, batch_size):
                pending.append((batch, prepare.submit(batch.messages)))
                while len(pending) >= ahead:
                    commit_oldest()
                    collect()
            while pending:
                commit_oldest()
        finally:
            for _, future in pending:
                future.cancel()
    if progress is not None:
        progress(total, total, summary.messages)
    return summary


@contextmanager
def _collecting_between_batches() -> Iterator[Callable[[], None]]:
    """Within, the cyclic collector runs only when the caller says a batch is done.

    Thousands of prepared messages stay alive while a batch is read and committed: the
    automatic collections, triggered by allocations, walked them over and over (measured:
    a quarter more CPU at 2,000 messages per batch than at 500). They form no cycles and
    are freed by reference counting; a young collection after each batch and a full one
    every `FULL_COLLECTION_EVERY` batches still free any cycle (an adapter's, say).
    """
    enabled = gc.isenabled()
    gc.disable()
    done = 0

    def collect() -> None:
        nonlocal done
        done += 1
        gc.collect(2 if done % FULL_COLLECTION_EVERY == 0 else 0)

    try:
        yield collect
    finally:
        if enabled:
            gc.enable()


def _batches(
    files: Sequence[Path],
    named: Collection[Path],
    summary: ImportSummary,
    batch_size: int,
) -> Iterator[_Batch]:
    """The messages of every HL7 file, `batch_size` at a time; counts files in `summary`."""
    done = 0
    messages: list[Incoming] = []
    for path in files:
        try:
            with path.open("rb") as stream:
                head = stream.read(_SNIFF_BYTES)
                what = not_hl7(head)
                if what is not None:
                    done += _size(path)
                    listed = summary.rejected if path in named else summary.skipped
                    listed.append((path, what))
                    continue
                summary.files += 1
                for raw, read in read_messages(stream, head):
                    messages.append(
                        Incoming(raw.data, "import", f"{path}, ligne {raw.line}")
                    )
                    if len(messages) >= batch_size:
                        yield _Batch(messages, done + read)
                        messages = []
                done += _size(path)
        except OSError as exc:
            summary.unreadable.append((path, exc.strerror or type(exc).__name__))
            continue
    if messages:
        yield _Batch(messages, done)


#: The bytes after which a line starting with MSH starts a message.
_CUT_AFTER = b"\r\n\x0b"


def read_messages(
    stream: BinaryIO, head: bytes = b"", *, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[tuple[RawMessage, int]]:
    """The messages of `stream` (after `head`, already read), each with the bytes read so far.

    The same messages and line numbers as `split_messages` on the whole content, read
    `chunk_bytes` at a time: each chunk is cut before the last line starting with MSH, so
    no message spans two chunks. Raises OSError when the stream cannot be read.
    """
    buffer = head
    read = len(head)
    lines_before = 0
    at_eof = False
    while not at_eof:
        data = stream.read(chunk_bytes)
        at_eof = not data
        read += len(data)
        buffer += data
        cut = len(buffer) if at_eof else _last_message_start(buffer)
        if cut <= 0:
            continue  # one message larger than a chunk: read on
        chunk, buffer = buffer[:cut], buffer[cut:]
        for raw in split_messages(chunk):
            yield RawMessage(raw.data, raw.line + lines_before), read
        lines_before += _line_breaks(chunk)


def _last_message_start(buffer: bytes) -> int:
    """Where the last line starting with MSH begins (its BOM included); 0 if none after 0.

    Only after a line break or an MLLP start block: there `split_messages` starts a message
    whatever came before, so cutting there changes nothing.
    """
    end = len(buffer)
    while (at := buffer.rfind(b"MSH", 1, end)) > 0:
        start = at - len(UTF8_BOM) if buffer.endswith(UTF8_BOM, 0, at) else at
        if start == 0:
            return 0
        if buffer[start - 1] in _CUT_AFTER:
            return start
        end = at + 2  # look before this one
    return 0


def _line_breaks(chunk: bytes) -> int:
    """Lines counted as `split_messages` counts them: CR, LF and CRLF, MLLP blocks not."""
    return chunk.count(b"\r") + chunk.count(b"\n") - chunk.count(b"\r\n")


def not_hl7(data: bytes) -> str | None:
    """What the file's bytes look like when they are not HL7 v2; None when they start like it.

    HL7 starts with MSH, FHS or BHS, after any blank lines, MLLP start blocks and BOMs.
    """
    head = data[:_SNIFF_BYTES]
    while True:
        stripped = head.lstrip(_LEADING_BLANKS).removeprefix(UTF8_BOM)
        if stripped == head:
            break
        head = stripped
    if head[:3] in _FIRST_SEGMENTS:
        return None
    if not head:
        return "fichier vide"
    for signature, what in _SIGNATURES:
        if head.startswith(signature):
            return what
    if b"\x00" in head:
        return "fichier binaire"
    return "ne commence pas par un segment MSH"


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
