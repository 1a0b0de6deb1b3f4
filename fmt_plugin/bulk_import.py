"""Import HL7 files through the ingest pipeline: walk paths, split messages, commit in batches.

Same pipeline as the MLLP listener (dedupe, patient matching, quarantine), so a message imported
twice, or imported after it arrived over MLLP, is stored once. Batches of messages share one
transaction: durable like the listener, without one fsync per message.

A file that does not start like HL7 v2 (a PDF, a spreadsheet, a CSV dropped in the folder) is
not split into messages at all: each of its lines would be quarantined as junk. It is counted
as one file, `rejected` when it was named on the command line, `skipped` when found in a folder.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fmt_plugin.errors import InputError
from fmt_plugin.hl7.batch import split_messages
from fmt_plugin.hl7.er7 import UTF8_BOM
from fmt_plugin.ingest import Disposition, Incoming, Ingestor, IngestOutcome

#: Messages per transaction: large enough to amortise the commit, small enough to show progress.
BATCH_SIZE = 500
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


def import_files(
    ingestor: Ingestor,
    files: Sequence[Path],
    *,
    named: Collection[Path] = (),
    progress: Progress | None = None,
    batch_size: int = BATCH_SIZE,
) -> ImportSummary:
    """Ingest every message of `files`; a file that cannot be read is listed, not fatal.

    A file that is not HL7 (see `not_hl7`) is listed as rejected when it is in `named` (the
    files the user named), as skipped otherwise; none of its bytes reach the pipeline.
    """
    summary = ImportSummary()
    total = sum(_size(path) for path in files)
    done = 0
    batch: list[Incoming] = []

    def flush() -> None:
        for incoming, outcome in zip(
            batch, ingestor.ingest(batch, acknowledge=False), strict=True
        ):
            summary.add(incoming, outcome)
        batch.clear()
        if progress is not None:
            progress(done, total, summary.messages)

    for path in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            summary.unreadable.append((path, exc.strerror or type(exc).__name__))
            continue
        done += len(data)
        what = not_hl7(data)
        if what is not None:
            (summary.rejected if path in named else summary.skipped).append(
                (path, what)
            )
            continue
        summary.files += 1
        for incoming in _messages(path, data):
            batch.append(incoming)
            if len(batch) >= batch_size:
                flush()
    if batch:
        flush()
    if progress is not None:
        progress(total, total, summary.messages)
    return summary


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


def _messages(path: Path, data: bytes) -> Iterable[Incoming]:
    for raw in split_messages(data):
        yield Incoming(raw.data, "import", f"{path}, ligne {raw.line}")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
