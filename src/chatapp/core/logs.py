"""What the log says and how.

Outages: one line each, without a traceback. While PostgreSQL or Redis is
down, every request, pool reconnect attempt and health probe fails the same
way; a traceback each would bury everything else.

Request ids: every line written while a request or a socket handshake is
served names its id, taken from ``X-Request-ID`` or made.

``LOG_FORMAT=json``: python-json-logger's formatter (docs/operations.md, "Logs").
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterable
from contextvars import ContextVar

from chatapp.core.outages import is_outage


def outage_summary(exc: BaseException) -> str:
    """The exception in one line: ``Type: first line of the message``."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


class OutagesInOneLine(logging.Filter):
    """On a handler: a record logged with an outage's traceback (asyncpg's pool
    retrying its connections, say) keeps its line and gets the outage's summary
    instead of the traceback. Records of any other exception are left alone."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and is_outage(exc):
            record.msg = f"{record.getMessage()}: {outage_summary(exc)}"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


# --- request ids -----------------------------------------------------------------

# The id of the request (or socket handshake) being served; every log line
# written while serving it carries it (``WithRequestId``).
REQUEST_ID: ContextVar[str | None] = ContextVar("chatapp_request_id", default=None)
REQUEST_ID_HEADER = b"x-request-id"
# What a client's (or nginx's) X-Request-ID may be to be kept: bounded, and only
# characters that cannot forge a log line or a header.
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id_of(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The request's ``X-Request-ID`` when it is a safe one, else a new id."""
    for name, value in headers:
        if name == REQUEST_ID_HEADER:
            text = value.decode("latin-1").strip()
            if _SAFE_REQUEST_ID.fullmatch(text):
                return text
            break
    return uuid.uuid4().hex


class WithRequestId(logging.Filter):
    """On a handler: the record gets ``request_id`` of the request being served."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = REQUEST_ID.get()
        if request_id is not None and not hasattr(record, "request_id"):
            record.request_id = request_id
        return True


def json_formatter() -> logging.Formatter:
    """``LOG_FORMAT=json``: one JSON object a line, with the time (UTC, ISO 8601),
    level, logger, process id, message, and the fields a line adds (``extra``)."""
    from pythonjsonlogger.core import RESERVED_ATTRS
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter(
        "%(levelname)s %(name)s %(process)d %(message)s",
        rename_fields={"levelname": "level", "name": "logger", "process": "pid"},
        timestamp="time",
        # uvicorn adds a copy of some messages with terminal colours.
        reserved_attrs=[*RESERVED_ATTRS, "color_message"],
    )


class WithoutServerSocketLines(logging.Filter):
    """On a handler: drops uvicorn's own lines about each socket (its handshake
    line holds the query string, and two or three lines a socket drown the rest
    in a connect storm); the app writes one line per socket (``chatapp.ws``)."""

    DROPPED = frozenset({"connection open", "connection closed"})

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name != "uvicorn.error" or not isinstance(record.msg, str):
            return True
        return record.msg not in self.DROPPED and not record.msg.startswith('%s - "WebSocket %s"')
