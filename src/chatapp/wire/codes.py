"""Error codes of the Error shape and of the ``error`` frame (PROTOCOL.md)."""

from __future__ import annotations

INVALID = "invalid"
NOT_AUTHENTICATED = "not_authenticated"
FORBIDDEN = "forbidden"
CSRF_FAILED = "csrf_failed"
NOT_FOUND = "not_found"
METHOD_NOT_ALLOWED = "method_not_allowed"
CONFLICT = "conflict"
TOO_LARGE = "too_large"
UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
RATE_LIMITED = "rate_limited"
SERVER_ERROR = "server_error"  # added by this server: a bug, never expected
EDIT_WINDOW = "edit_window"  # version 2: too late to edit
NOT_AUTHOR = "not_author"  # version 2: only the author may do that
UNAVAILABLE = "unavailable"  # a dependency is down; nothing was stored; retry
