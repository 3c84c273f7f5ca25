"""Every frame of the /ws/ protocol (PROTOCOL.md): parsing what clients send,
building what the server sends. The consumer dispatches on ``type`` by a table."""

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

# Close codes.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TOO_SLOW = 4408
CLOSE_TOO_LARGE = 1009
CLOSE_RESTARTING = 1012

CLIENT_ID_MAX = 64
HISTORY_LIMIT_MAX = 100
HISTORY_LIMIT_DEFAULT = 50


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
    except ValueError as exc:
        raise FrameError(INVALID, "The frame is not valid JSON.") from exc
    if not isinstance(frame, dict):
        raise FrameError(INVALID, "A frame is a JSON object.")
    if not isinstance(frame.get("type"), str):
        raise FrameError(INVALID, 'A frame needs a string "type".')
    return frame


def field_int(frame: dict[str, Any], name: str, *, optional: bool = False) -> int | None:
    value = frame.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise FrameError(INVALID, f'"{name}" must be an integer.', ref_of(frame))
    return value


def field_room(frame: dict[str, Any]) -> int:
    value = frame.get("room")
    if not isinstance(value, int) or isinstance(value, bool):
        raise FrameError(INVALID, '"room" must be an integer.', ref_of(frame))
    return value


def ref_of(frame: dict[str, Any]) -> str | None:
    ref = frame.get("client_id")
    return ref if isinstance(ref, str) and len(ref) <= CLIENT_ID_MAX else None


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
    body = frame.get("body")
    if not isinstance(body, str):
        raise FrameError(INVALID, '"body" must be a string.', client_id)
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
