"""The audit chain's head anchored outside the database: a file beside the key file, and the system journal.

The chain in the store detects any edit, deletion or reordering of its entries, but not a
rollback of the whole database file: an older copy (a backup, a saved `audit_head` row) is a
valid, shorter chain. So after every commit that moved the head, its seq and MAC are also
written where restoring the database does not reach:

- the anchor file (`[audit] anchor_file`, beside the key file by default), under an HMAC of the audit key (so it cannot be
  forged either), mode 0600, replaced atomically and only ever moved forward;
- the system journal (syslog socket, `/dev/log` by default), one line per move, which the
  practice's machine keeps whatever happens to the installation's files.

`audit verify` then requires the chain to reach and contain the anchored entry. The anchor may
lag behind the chain (a crash between the commit and the anchor write): that is accepted, only
a chain shorter than or diverging from the anchor is refused.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hmac
import json
import logging
import os
import re
import socket
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from hashlib import sha256
from pathlib import Path

from fmt_plugin.errors import FmtError
from fmt_plugin.private_files import write_privately

log = logging.getLogger(__name__)

FORMAT = "fmt-plugin-audit-head"
VERSION = 1
ANCHOR_LABEL = b"fmt-plugin/audit-anchor/1"
MAX_ANCHOR_BYTES = 64 * 1024
#: syslog facility "local0" (16) at severity "notice" (5): <16*8+5>.
SYSLOG_PRIORITY = 16 * 8 + 5
SYSLOG_TAG = "fmt-plugin-audit"
DEFAULT_JOURNAL_SOCKET = Path("/dev/log")
_JOURNAL_LINE = re.compile(
    # With or without the syslog tag: `journalctl -o cat` prints the message alone.
    rf"(?:^|{SYSLOG_TAG}(?:\[\d+\])?: )(?:head|restore|reanchor|anchor|create)"
    r" store=(?P<store>[0-9a-f]{16}) seq=(?P<seq>\d+) mac=(?P<mac>[0-9a-f]{64})"
)


@dataclass(frozen=True)
class AnchoredHead:
    """The last head the anchor vouches for: entry `seq` had MAC `mac`."""

    seq: int
    mac: bytes
    at: str


class AuditAnchorError(FmtError):
    """The anchor file exists but is unreadable, malformed, forged or another store's."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = f"ancre externe {path} : {reason}"
        super().__init__(self.reason)


class SyslogJournal:
    """Sends one line per anchored head to a syslog datagram socket (journald reads `/dev/log`).

    A machine without the socket (a container, a test runner) is not an error: the file
    anchor still holds, and nothing is sent.
    """

    def __init__(self, address: Path = DEFAULT_JOURNAL_SOCKET) -> None:
        self.address = address

    def __repr__(self) -> str:
        return f"<SyslogJournal {self.address}>"

    def publish(self, fingerprint: str, head: AnchoredHead, *, event: str) -> None:
        """Send `event` (`head`, `restore`, `reanchor`) with the store, seq and MAC; no patient data."""
        line = (
            f"<{SYSLOG_PRIORITY}>{SYSLOG_TAG}[{os.getpid()}]: {event}"
            f" store={fingerprint[:16]} seq={head.seq} mac={head.mac.hex()}"
        )
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
                sender.sendto(line.encode("ascii"), str(self.address))
        except OSError as exc:
            # Debug only: every CLI command on a machine without syslog would warn otherwise.
            log.debug("audit head not sent to %s (%s)", self.address, exc.strerror)


class AuditAnchor:
    """The anchor file of one store (and the journal it also reports to)."""

    def __init__(self, path: Path, *, journal: SyslogJournal | None = None) -> None:
        self.path = path
        self.journal = journal

    def __repr__(self) -> str:
        return f"<AuditAnchor {self.path}>"

    def read(self, key: bytes, fingerprint: str) -> AnchoredHead | None:
        """The anchored head, None when there is no anchor file.

        Raises AuditAnchorError when the file is unreadable, malformed, forged (its MAC does
        not verify under `key`) or names another store.
        """
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise AuditAnchorError(
                self.path, f"illisible ({exc.strerror or type(exc).__name__})"
            ) from exc
        if len(raw) > MAX_ANCHOR_BYTES:
            raise AuditAnchorError(self.path, "fichier trop volumineux")
        return _parse(raw, self.path, key, fingerprint)

    def advance(
        self,
        key: bytes,
        fingerprint: str,
        head: AnchoredHead,
        *,
        chain_holds: Callable[[AnchoredHead], bool],
    ) -> bool:
        """Move the anchor forward to `head`; True when it was written.

        Never moves it back, and never over an anchor the chain does not contain
        (`chain_holds(anchored)` is False): that anchor is the evidence of a rollback and
        must survive until someone looks at it. A missing, unreadable or forged anchor is
        left as it is too, for the same reason (`reset` replaces it, audited).
        """
        with self._locked():
            try:
                current = self.read(key, fingerprint)
            except AuditAnchorError as exc:
                log.error("audit anchor not moved: %s", exc.reason)
                return False
            if current is None:
                log.error("audit anchor not moved: %s is missing", self.path)
                return False
            if current.seq >= head.seq:
                return False
            if not chain_holds(current):
                log.error(
                    "audit anchor not moved: the chain no longer holds anchored entry %d",
                    current.seq,
                )
                return False
            self._write(key, fingerprint, head)
        self._publish(fingerprint, head, "head")
        return True

    def reset(
        self, key: bytes, fingerprint: str, head: AnchoredHead, *, event: str
    ) -> None:
        """Write `head` whatever the anchor held (creation, a restore, an audited re-anchor)."""
        with self._locked():
            self._write(key, fingerprint, head)
        self._publish(fingerprint, head, event)

    def _write(self, key: bytes, fingerprint: str, head: AnchoredHead) -> None:
        document = {
            "format": FORMAT,
            "version": VERSION,
            "store": fingerprint,
            "seq": head.seq,
            "mac": base64.b64encode(head.mac).decode("ascii"),
            "at": head.at,
            "anchor_mac": base64.b64encode(_anchor_mac(key, fingerprint, head)).decode(
                "ascii"
            ),
        }
        data = (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8")
        write_privately(self.path, data)

    def _publish(self, fingerprint: str, head: AnchoredHead, event: str) -> None:
        if self.journal is not None:
            self.journal.publish(fingerprint, head, event=event)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise read-compare-write between processes (the service and a CLI command).

        The lock is on the anchor's folder: the file itself is replaced by a rename, so a
        lock on it would guard an inode that is about to leave.
        """
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def last_journal_head(lines: Iterable[str], fingerprint: str) -> AnchoredHead | None:
    """The last head the journal recorded for the store `fingerprint` names, None if none.

    The last line in journal order, not the highest seq: after a restore the chain
    legitimately goes back, and the journal says so with its `restore` line.
    """
    store = fingerprint[:16]
    last: AnchoredHead | None = None
    for line in lines:
        match = _JOURNAL_LINE.search(line)
        if match is None or match["store"] != store:
            continue
        last = AnchoredHead(int(match["seq"]), bytes.fromhex(match["mac"]), "")
    return last


def head_now(seq: int, mac: bytes) -> AnchoredHead:
    """The head `seq`/`mac`, stamped with the current UTC time."""
    return AnchoredHead(seq, mac, datetime.now(UTC).isoformat(timespec="seconds"))


def _anchor_mac(key: bytes, fingerprint: str, head: AnchoredHead) -> bytes:
    message = b"\x00".join(
        (
            ANCHOR_LABEL,
            fingerprint.encode("ascii"),
            head.seq.to_bytes(8, "big", signed=True),
            head.mac,
            head.at.encode("utf-8"),
        )
    )
    return hmac.new(key, message, sha256).digest()


def _parse(raw: bytes, path: Path, key: bytes, fingerprint: str) -> AnchoredHead:
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise AuditAnchorError(path, "JSON invalide") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise AuditAnchorError(path, "ce n'est pas une ancre de journal fmt-plugin")
    if document.get("version") != VERSION:
        raise AuditAnchorError(path, "version d'ancre non prise en charge")
    seq, at, store = document.get("seq"), document.get("at"), document.get("store")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise AuditAnchorError(path, "champ « seq » invalide")
    if not isinstance(at, str) or not isinstance(store, str):
        raise AuditAnchorError(path, "champ « at » ou « store » invalide")
    mac = _b64(document.get("mac"), path, "mac")
    claimed = _b64(document.get("anchor_mac"), path, "anchor_mac")
    if not hmac.compare_digest(store, fingerprint):
        raise AuditAnchorError(path, "elle appartient à une autre base")
    head = AnchoredHead(seq, mac, at)
    if not hmac.compare_digest(claimed, _anchor_mac(key, fingerprint, head)):
        raise AuditAnchorError(path, "modifiée (son MAC ne correspond pas)")
    return head


def _b64(value: object, path: Path, name: str) -> bytes:
    if not isinstance(value, str):
        raise AuditAnchorError(path, f"champ « {name} » invalide")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise AuditAnchorError(path, f"champ « {name} » invalide") from None
