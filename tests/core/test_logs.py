from __future__ import annotations

import logging

import asyncpg
from django.db import OperationalError

from chatapp.core.logs import OutagesInOneLine, outage_summary


def record_of(
    exc: BaseException, message: str = "pool: retrying %s", *args: object
) -> logging.LogRecord:
    try:
        raise exc
    except BaseException as raised:
        return logging.LogRecord(
            "asyncpg.pool",
            logging.WARNING,
            __file__,
            1,
            message,
            args or ("now",),
            (type(raised), raised, raised.__traceback__),
        )


def test_an_outage_is_logged_in_one_line_without_traceback() -> None:
    record = record_of(asyncpg.CannotConnectNowError("the database system is shutting down"))
    assert OutagesInOneLine().filter(record)
    formatted = logging.Formatter("%(levelname)s %(message)s").format(record)
    assert formatted == (
        "WARNING pool: retrying now: CannotConnectNowError: the database system is shutting down"
    )


def test_a_bug_keeps_its_traceback() -> None:
    record = record_of(ValueError("a bug"))
    assert OutagesInOneLine().filter(record)
    formatted = logging.Formatter("%(message)s").format(record)
    assert "Traceback" in formatted and "ValueError: a bug" in formatted


def test_summary_is_the_first_line() -> None:
    exc = OperationalError('connection to server at "127.0.0.1" failed\n\tIs the server running?')
    assert outage_summary(exc) == 'OperationalError: connection to server at "127.0.0.1" failed'
    assert outage_summary(ConnectionError()) == "ConnectionError"
