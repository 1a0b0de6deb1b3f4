"""French text views of the HL7 inbox: import progress and summary, the quarantine, replays."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TextIO

from fmt_plugin.bulk_import import ImportSummary
from fmt_plugin.ingest import ReplayOutcome
from fmt_plugin.storage.inbox import MessageRecord
from fmt_plugin.views.french import number, percent

_BAR_WIDTH = 30
#: Skipped files named one by one in the summary; the rest are counted.
SHOWN_SKIPPED = 20


class ProgressLine:
    """A one-line progress bar redrawn in place on a terminal (`\\r`), then cleared."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._last = ""

    def __call__(self, done: int, total: int, messages: int) -> None:
        """Redraw the bar for `done` of `total` bytes and `messages` messages."""
        fraction = done / total if total else 1.0
        filled = int(fraction * _BAR_WIDTH)
        line = (
            f"\r[{'#' * filled}{'.' * (_BAR_WIDTH - filled)}] {percent(fraction):>7}"
            f"  {number(messages)} messages"
        )
        if line != self._last:
            self._stream.write(line)
            self._stream.flush()
            self._last = line

    def finish(self) -> None:
        """End the bar's line."""
        self._stream.write("\n")
        self._stream.flush()


def render_import_summary(summary: ImportSummary) -> str:
    """The end-of-import report: counts, quarantine reasons, and the files not imported.

    Each quarantine reason comes with one example; then the files that are not HL7 (skipped
    in a folder, rejected when named) and those that could not be read.
    """
    lines = [
        (
            f"Import terminé : {number(summary.messages)} messages lus dans "
            f"{number(summary.files)} fichier(s)."
        ),
        (
            f"  intégrés        : {number(summary.accepted)} ({number(summary.events)} résultats"
            " et vaccinations)"
        ),
        f"  doublons        : {number(summary.duplicates)} (déjà reçus, non stockés à nouveau)",
        f"  en quarantaine  : {number(summary.quarantined)}",
    ]
    for reason, count in summary.reasons.most_common():
        example = summary.examples.get(reason, "")
        lines.append(f"    {number(count)} × {reason}")
        if example:
            lines.append(f"        par exemple {example}")
    if summary.quarantined:
        lines.append(
            "  Voir « fmt-plugin quarantine list » ; après correction (patient ajouté à"
            " la patientèle…), « fmt-plugin quarantine replay --all »."
        )
    if summary.skipped:
        lines.append(
            f"  ignorés         : {number(len(summary.skipped))} fichier(s) qui ne sont pas"
            " du HL7 (rien n'a été importé ni mis en quarantaine)"
        )
        for path, what in summary.skipped[:SHOWN_SKIPPED]:
            lines.append(f"    {path} ({what})")
        more = len(summary.skipped) - SHOWN_SKIPPED
        if more > 0:
            lines.append(f"    … et {number(more)} autre(s)")
    for path, what in summary.rejected:
        lines.append(f"  REJETÉ, pas du HL7 : {path} ({what})")
    for path, reason in summary.unreadable:
        lines.append(f"  ILLISIBLE : {path} ({reason})")
    if not summary.files and (summary.skipped or summary.rejected):
        lines.append("  Aucun fichier HL7 trouvé : rien n'a été importé.")
    return "\n".join(lines) + "\n"


def render_quarantine(
    records: Sequence[MessageRecord], origins: Mapping[int, str]
) -> str:
    """One block per quarantined message: id, arrival, sender, MSH-10, ACK and reason."""
    if not records:
        return "Quarantaine vide.\n"
    lines = [f"{len(records)} message(s) en quarantaine :"]
    for record in records:
        lines.append(
            f"n° {record.message_id}  reçu le {record.received_at[:19].replace('T', ' ')}"
            f" UTC ({record.channel})  émetteur {record.sender}"
            f"  MSH-10 {record.control_id or '?'}  {record.message_type or '?'}"
            f"  réponse {record.ack_code}"
        )
        lines.append(f"    motif : {record.reason}")
        origin = origins.get(record.message_id)
        if origin:
            lines.append(f"    origine : {origin}")
        if record.replayed_at:
            lines.append(f"    dernier rejeu : {record.replayed_at}")
        if record.duplicates:
            lines.append(f"    reçu encore {record.duplicates} fois")
    return "\n".join(lines) + "\n"


def render_replay(results: Sequence[ReplayOutcome]) -> str:
    """What each replayed message became."""
    lines = []
    for result in results:
        if result.accepted:
            lines.append(
                f"n° {result.message_id} : intégré (patient {result.patient_id},"
                f" {len(result.events)} événement(s))"
            )
        else:
            reason = result.rejection.reason if result.rejection else "?"
            lines.append(f"n° {result.message_id} : toujours en quarantaine — {reason}")
    accepted = sum(1 for r in results if r.accepted)
    lines.append(
        f"{accepted} intégré(s), {len(results) - accepted} toujours en quarantaine."
    )
    return "\n".join(lines) + "\n"
