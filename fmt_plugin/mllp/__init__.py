"""Re-exports the MLLP listener API: the server, its settings and handler protocol, the framer."""

from __future__ import annotations

from fmt_plugin.mllp.framing import (
    END_BLOCK,
    START_BLOCK,
    Frame,
    FramingError,
    MllpFramer,
    Oversize,
    SkippedJunk,
    frame,
)
from fmt_plugin.mllp.server import FrameHandler, MllpServer, MllpSettings, PeerInfo
from fmt_plugin.mllp.tls import peer_subject, server_ssl_context, subject_allowed

__all__ = [
    "END_BLOCK",
    "START_BLOCK",
    "Frame",
    "FrameHandler",
    "FramingError",
    "MllpFramer",
    "MllpServer",
    "MllpSettings",
    "Oversize",
    "PeerInfo",
    "SkippedJunk",
    "frame",
    "peer_subject",
    "server_ssl_context",
    "subject_allowed",
]
