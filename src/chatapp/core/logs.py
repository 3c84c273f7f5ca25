"""Outages in the log: one line each, without a traceback.

While PostgreSQL or Redis is down, every request, pool reconnect attempt and
health probe fails the same way; a traceback each would bury everything else.
"""

from __future__ import annotations

import logging

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
