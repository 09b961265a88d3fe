"""The JSON frame protocol of ``/ws`` and ``/portal/ws`` (documented in docs/realtime.md).

Every frame is one JSON object in a text frame with a ``type``. This module only parses
and builds frames: it checks shape and size, never rights (``hub.realtime.session`` does,
with the database). A frame that cannot be understood becomes an ``error`` frame with a
stable ``code``; only floods close the socket (``CLOSE_FLOOD``).
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

# Close codes (4000-4999 are the application's; documented in docs/realtime.md).
CLOSE_HEARTBEAT = 4000  # nothing heard from the client for too long
CLOSE_SESSION_ENDED = 4001  # logged out, session expired or revoked, account disabled
CLOSE_SLOW = 4008  # the client did not read fast enough; resume with the last seq
CLOSE_FLOOD = 4029  # more frames than the rate limit allows
CLOSE_GOING_AWAY = 1001  # the server process is shutting down; reconnect elsewhere

# Error codes of ``error`` frames.
BAD_FRAME = "bad_frame"
UNKNOWN_TYPE = "unknown_type"
FRAME_TOO_LARGE = "frame_too_large"
NOT_ALLOWED = "not_allowed"
NOT_SUBSCRIBED = "not_subscribed"
INVALID_INPUT = "invalid_input"
NOT_FOUND = "not_found"
RATE_LIMITED = "rate_limited"
INTERNAL = "internal_error"

CLIENT_TYPES = frozenset({
    "subscribe", "unsubscribe", "send", "edit", "delete", "read", "typing", "presence",
    "ping", "push_subscribe",
})
PRESENCE_STATES = ("online", "away")
_STREAM = re.compile(r"^(room|conversation):([1-9][0-9]{0,17})$")
_CLIENT_MESSAGE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
MAX_BODY_CHARS = 8000
MAX_REF_CHARS = 64


class FrameError(Exception):
    """A frame the server cannot act on; becomes an ``error`` frame with ``code``."""

    def __init__(self, code: str, message: str, ref: str | None = None,
                 stream: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref
        self.stream = stream

    def frame(self) -> str:
        return error_frame(self.code, self.message, ref=self.ref, stream=self.stream)


@dataclasses.dataclass(frozen=True)
class StreamRef:
    """A stream named in a frame: ``room:12`` or ``conversation:7``."""

    kind: str
    id: int

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.id}"

    @classmethod
    def parse(cls, value: Any) -> StreamRef | None:
        if not isinstance(value, str):
            return None
        match = _STREAM.match(value)
        return cls(match.group(1), int(match.group(2))) if match else None


def decode(text: str | None, max_bytes: int) -> dict[str, Any]:
    """The frame as a dict, or ``FrameError`` (too large, not JSON, not an object)."""
    if text is None:
        raise FrameError(BAD_FRAME, "binary frames are not part of the protocol")
    # a str of n characters is at least n bytes in UTF-8; count exactly only near the cap
    if len(text) > max_bytes or (len(text) * 4 > max_bytes
                                 and len(text.encode()) > max_bytes):
        raise FrameError(FRAME_TOO_LARGE, f"frames are limited to {max_bytes} bytes")
    try:
        frame = json.loads(text)
    except ValueError:
        raise FrameError(BAD_FRAME, "not valid JSON") from None
    if not isinstance(frame, dict):
        raise FrameError(BAD_FRAME, "a frame is a JSON object")
    kind = frame.get("type")
    if kind not in CLIENT_TYPES:
        raise FrameError(UNKNOWN_TYPE, f"unknown frame type {str(kind)[:40]!r}",
                         ref=ref_of(frame))
    return frame


def ref_of(frame: dict[str, Any]) -> str | None:
    """The client's correlation id, echoed in ``ack`` and ``error`` frames."""
    ref = frame.get("ref")
    return ref[:MAX_REF_CHARS] if isinstance(ref, str) else None


def stream_of(frame: dict[str, Any]) -> StreamRef:
    ref = StreamRef.parse(frame.get("stream"))
    if ref is None:
        raise FrameError(BAD_FRAME, "stream must be 'room:<id>' or 'conversation:<id>'",
                         ref=ref_of(frame))
    return ref


def seq_of(frame: dict[str, Any], field: str, *, optional: bool = False) -> int | None:
    value = frame.get(field)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise FrameError(BAD_FRAME, f"{field} must be a sequence number", ref=ref_of(frame),
                         stream=_stream_name(frame))
    return value


def body_of(frame: dict[str, Any]) -> str:
    body = frame.get("body")
    if not isinstance(body, str) or not body.strip():
        raise FrameError(INVALID_INPUT, "body must be non-empty text", ref=ref_of(frame),
                         stream=_stream_name(frame))
    if len(body) > MAX_BODY_CHARS:
        raise FrameError(INVALID_INPUT, f"body is limited to {MAX_BODY_CHARS} characters",
                         ref=ref_of(frame), stream=_stream_name(frame))
    return body


def client_message_id_of(frame: dict[str, Any]) -> str:
    value = frame.get("client_message_id")
    if not isinstance(value, str) or not _CLIENT_MESSAGE_ID.match(value):
        raise FrameError(BAD_FRAME, "client_message_id: 1-64 of A-Z a-z 0-9 _ . : -",
                         ref=ref_of(frame), stream=_stream_name(frame))
    return value


def mentions_of(frame: dict[str, Any]) -> list[int]:
    value = frame.get("mentions", [])
    if not isinstance(value, list) or len(value) > 50 or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise FrameError(BAD_FRAME, "mentions must be a list of staff ids", ref=ref_of(frame))
    return sorted(set(value))


def _stream_name(frame: dict[str, Any]) -> str | None:
    stream = frame.get("stream")
    return stream if isinstance(stream, str) and len(stream) <= 40 else None


def encode(frame: dict[str, Any]) -> str:
    return json.dumps(frame, separators=(",", ":"), default=str)


def error_frame(code: str, message: str, *, ref: str | None = None,
                stream: str | None = None) -> str:
    frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if ref is not None:
        frame["ref"] = ref
    if stream is not None:
        frame["stream"] = stream
    return encode(frame)
