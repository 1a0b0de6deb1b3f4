"""systemd's readiness protocol (sd_notify): one datagram to `$NOTIFY_SOCKET`, nothing else.

With `Type=notify`, systemd considers the service started only when it says `READY=1`, i.e.
once the store is open, the checks passed and the listener accepts connections, so units
ordered after it, and `systemctl start`, wait for a service that really works. Outside
systemd the variable is absent and every call does nothing. The protocol is one line per
assignment in a datagram; libsystemd is not needed for that.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)

NOTIFY_SOCKET_ENV = "NOTIFY_SOCKET"


def notify(*assignments: str) -> bool:
    """Send `READY=1`, `STOPPING=1`, `STATUS=…` to systemd; False when not run by systemd."""
    address = os.environ.get(NOTIFY_SOCKET_ENV)
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket: its name starts with a NUL byte
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall("\n".join(assignments).encode())
    except OSError as exc:
        # Not fatal: the service works; systemd will report the start as timed out.
        log.warning("could not notify systemd (%s)", exc.strerror or type(exc).__name__)
        return False
    return True
