"""The frames of the /ws/ protocol (PROTOCOL.md) as the transport sees them:
decoding and checking what clients send, encoding what the server sends.

A frame never kills a socket: whatever a client sends (numbers beyond 64 bits,
JSON nested thousands deep, NUL characters or lone surrogates in strings)
becomes an ``error`` frame, and the socket goes on."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# Error codes of the error frame.
INVALID = "invalid"
FORBIDDEN = "forbidden"
NOT_FOUND = "not_found"
RATE_LIMITED = "rate_limited"
TOO_LARGE = "too_large"
UNAVAILABLE = "unavailable"  # a dependency is down; nothing was stored; retry

# Close codes.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TOO_SLOW = 4408
CLOSE_TOO_MANY_SOCKETS = 4409  # added by this server: the user opened newer ones
CLOSE_TOO_LARGE = 1009
CLOSE_RESTARTING = 1012

CLIENT_ID_MAX = 64
HISTORY_LIMIT_MAX = 100
HISTORY_LIMIT_DEFAULT = 50
# Ids and sequence numbers are PostgreSQL bigints.
INT_MIN, INT_MAX = -(2**63), 2**63 - 1


class FrameError(Exception):
    """A client frame that cannot be acted on; becomes an ``error`` frame."""

    def __init__(self, code: str, detail: str, ref: str | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.ref = ref


def encode(frame: dict[str, Any]) -> str:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def decode(text: str | None) -> dict[str, Any]:
    if text is None:
        raise FrameError(INVALID, "Frames are JSON text.")
    try:
        frame = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        raise FrameError(INVALID, "The frame is not valid JSON.") from exc
    if not isinstance(frame, dict):
        raise FrameError(INVALID, "A frame is a JSON object.")
    kind = frame.get("type")
    if not isinstance(kind, str) or not is_clean(kind):
        raise FrameError(INVALID, 'A frame needs a string "type".')
    return frame


def is_clean(text: str) -> bool:
    """No NUL (PostgreSQL text refuses it) and no lone surrogate (not UTF-8)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def field_int(frame: dict[str, Any], name: str, *, optional: bool = False) -> int | None:
    value = frame.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not INT_MIN <= value <= INT_MAX:
        raise FrameError(INVALID, f'"{name}" must be a 64-bit integer.', ref_of(frame))
    return value


def field_room(frame: dict[str, Any]) -> int:
    room = field_int(frame, "room")
    assert room is not None  # noqa: S101 - not optional
    return room


def ref_of(frame: dict[str, Any]) -> str | None:
    ref = frame.get("client_id")
    if ref is None:
        ref = frame.get("ref")
    if isinstance(ref, str) and len(ref) <= CLIENT_ID_MAX and is_clean(ref):
        return ref
    return None


@dataclass(frozen=True, slots=True)
class SendFrame:
    room: int
    body: str
    client_id: str


def parse_send(frame: dict[str, Any], *, max_body: int) -> SendFrame:
    room = field_room(frame)
    client_id = frame.get("client_id")
    if not isinstance(client_id, str) or not client_id:
        raise FrameError(INVALID, '"client_id" must be a non-empty string.')
    if len(client_id) > CLIENT_ID_MAX:
        raise FrameError(INVALID, f'"client_id" is at most {CLIENT_ID_MAX} characters.')
    if not is_clean(client_id):
        raise FrameError(INVALID, '"client_id" has a NUL character or a lone surrogate.')
    body = frame.get("body")
    if not isinstance(body, str):
        raise FrameError(INVALID, '"body" must be a string.', client_id)
    if not is_clean(body):
        raise FrameError(INVALID, "The message has a NUL character or a lone surrogate.", client_id)
    body = body.strip()
    if not body:
        raise FrameError(INVALID, "The message is empty.", client_id)
    if len(body) > max_body:
        raise FrameError(TOO_LARGE, f"A message is at most {max_body} characters.", client_id)
    return SendFrame(room=room, body=body, client_id=client_id)


def parse_history_limit(frame: dict[str, Any]) -> int:
    limit = field_int(frame, "limit", optional=True)
    if limit is None:
        return HISTORY_LIMIT_DEFAULT
    if not 1 <= limit <= HISTORY_LIMIT_MAX:
        raise FrameError(INVALID, f'"limit" is from 1 to {HISTORY_LIMIT_MAX}.')
    return limit


def error(code: str, detail: str, ref: str | None = None) -> dict[str, Any]:
    return {"type": "error", "code": code, "detail": detail, "ref": ref}


def presence(room_id: int, online: int) -> str:
    return encode({"type": "presence", "room": room_id, "online": online})
