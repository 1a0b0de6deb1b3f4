"""Import HL7 files through the ingest pipeline: walk paths, split messages, commit in batches.

Same pipeline as the MLLP listener (dedupe, patient matching, quarantine), so a message imported
twice, or imported after it arrived over MLLP, is stored once. Batches of messages share one
transaction: durable like the listener, without one fsync per message.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fmt_plugin.errors import InputError
from fmt_plugin.hl7.batch import split_messages
from fmt_plugin.ingest import Disposition, Incoming, Ingestor, IngestOutcome

#: Messages per transaction: large enough to amortise the commit, small enough to show progress.
BATCH_SIZE = 500


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
    progress: Progress | None = None,
    batch_size: int = BATCH_SIZE,
) -> ImportSummary:
    """Ingest every message of `files`; a file that cannot be read is listed, not fatal."""
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
        summary.files += 1
        for incoming in _messages(path, data):
            batch.append(incoming)
            if len(batch) >= batch_size:
                flush()
        done += len(data)
    if batch:
        flush()
    if progress is not None:
        progress(total, total, summary.messages)
    return summary


def _messages(path: Path, data: bytes) -> Iterable[Incoming]:
    for raw in split_messages(data):
        yield Incoming(raw.data, "import", f"{path}, ligne {raw.line}")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
