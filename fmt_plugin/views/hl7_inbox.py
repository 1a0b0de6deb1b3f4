"""French text views of the HL7 inbox: import progress and summary, the quarantine, replays."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import TextIO

from fmt_plugin.bulk_import import ImportSummary
from fmt_plugin.hl7.identity import ReceivedIdentity
from fmt_plugin.ingest import ReplayOutcome
from fmt_plugin.storage.inbox import MessageRecord
from fmt_plugin.views import french
from fmt_plugin.views.french import number, percent

_BAR_WIDTH = 30
CHANNEL_WORDS = {"mllp": "réseau, MLLP", "import": "import de fichier"}
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
    waiting: Sequence[MessageRecord],
    origins: Mapping[int, str],
    identities: Mapping[int, ReceivedIdentity | None],
    *,
    discarded: Sequence[MessageRecord] = (),
    show_discarded: bool = False,
) -> str:
    """One block per message: id, arrival (Paris time), sender, who it is about, the reason.

    The discarded messages are listed after the waiting ones with `show_discarded`, and
    otherwise only counted.
    """
    lines: list[str] = []
    if waiting:
        lines.append(f"{_count(len(waiting), 'message', 'messages')} en quarantaine :")
        for record in waiting:
            lines += _message_block(record, origins, identities)
    else:
        lines.append("Quarantaine vide.")
    if discarded and show_discarded:
        lines += [
            "",
            f"{_count(len(discarded), 'message écarté', 'messages écartés')} :",
        ]
        for record in discarded:
            lines += _message_block(record, origins, identities)
    elif discarded:
        lines.append(
            f"({_count(len(discarded), 'message écarté', 'messages écartés')} en plus : "
            "fmt-plugin quarantine list --all)"
        )
    return "\n".join(lines) + "\n"


def _message_block(
    record: MessageRecord,
    origins: Mapping[int, str],
    identities: Mapping[int, ReceivedIdentity | None],
) -> list[str]:
    header = (
        f"n° {record.message_id}  reçu le {_local(record.received_at)}"
        f" ({CHANNEL_WORDS.get(record.channel, record.channel)})  de {record.sender}"
        f"  {record.message_type or '?'}  MSH-10 {record.control_id or '?'}"
        f"  réponse {record.ack_code}"
    )
    lines = [header]
    lines.append(
        f"    patient (PID) : {identity_text(identities.get(record.message_id))}"
    )
    lines.append(f"    motif : {record.reason}")
    origin = origins.get(record.message_id)
    if origin:
        lines.append(f"    origine : {origin}")
    if record.replayed_at:
        lines.append(f"    dernier rejeu : {_local(record.replayed_at)}")
    if record.duplicates:
        again = (
            "1 fois" if record.duplicates == 1 else f"{number(record.duplicates)} fois"
        )
        lines.append(f"    reçu encore {again}")
    if record.discarded_at:
        lines.append(
            f"    écarté le {_local(record.discarded_at)} par {record.discarded_by}"
        )
    return lines


def field_location(location: str) -> str:
    """`PID-3` for the ERR-2 location `PID^1^3`, `PID` without a field, "" for none."""
    segment, _, rest = location.partition("^")
    fields = rest.split("^")
    field = fields[1] if len(fields) > 1 else ""
    if not segment:
        return ""
    return f"{segment}-{field}" if field else segment


def identity_text(identity: ReceivedIdentity | None) -> str:
    """`INCONNU IVAN, né(e) le 02/02/1970, INS 1 70 02 75 056 998 94`, as the PID says it."""
    if identity is None:
        return "identité illisible"
    name = " ".join(part for part in (identity.family, identity.given) if part)
    parts = [name or "nom absent"]
    if identity.birth_date is not None:
        parts.append(f"né(e) le {french.day(identity.birth_date)}")
    elif identity.birth_text:
        parts.append(f"date de naissance illisible « {identity.birth_text} »")
    else:
        parts.append("date de naissance absente")
    parts.append(f"INS {french.nir(identity.ins)}" if identity.ins else "INS absent")
    if identity.others:
        others = ", ".join(f"{i.value} ({i.kind or 'type ?'})" for i in identity.others)
        parts.append(f"autres identifiants : {others}")
    return ", ".join(parts)


def _local(utc_text: str) -> str:
    """A stored UTC instant as the practice's wall clock showed it."""
    try:
        moment = datetime.fromisoformat(utc_text)
    except ValueError:
        return utc_text
    if moment.tzinfo is None:  # written by an older version: UTC without its offset
        moment = moment.replace(tzinfo=UTC)
    return french.local_time(moment)


def _count(n: int, one: str, many: str) -> str:
    return f"{number(n)} {one if n == 1 else many}"


def render_replay(
    results: Sequence[ReplayOutcome], discarded: Collection[int] = ()
) -> str:
    """What each replayed message became; `discarded` are the ids set aside before."""
    lines = []
    for result in results:
        if result.accepted:
            lines.append(
                f"n° {result.message_id} : intégré (patient {result.patient_id},"
                f" {len(result.events)} événement(s))"
            )
        else:
            reason = result.rejection.reason if result.rejection else "?"
            still = (
                "toujours écarté"
                if result.message_id in discarded
                else "toujours en quarantaine"
            )
            lines.append(f"n° {result.message_id} : {still} — {reason}")
    accepted = sum(1 for r in results if r.accepted)
    lines.append(
        f"{accepted} intégré(s), {len(results) - accepted} toujours en quarantaine."
    )
    return "\n".join(lines) + "\n"
