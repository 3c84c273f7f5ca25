"""The constrained scalars every wire type is built from, and the limits of
PROTOCOL.md that belong to the shapes themselves.

Each constraint is checked by msgspec while it decodes, so a value that breaks
one never reaches a handler, a query or the database: integers beyond 64 bits
(PostgreSQL bigints), NUL characters (PostgreSQL text refuses them) and lone
surrogates (not UTF-8) are refused at the edge."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from msgspec import Meta

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
CLIENT_ID_MAX = 64
HISTORY_LIMIT_MAX = 100
HISTORY_LIMIT_DEFAULT = 50
# The longest emoji sequences (flags of subdivisions, families with skin tones)
# are well under this many code points.
EMOJI_MAX_CHARS = 32

# No NUL and no surrogate code point: what PostgreSQL text and UTF-8 can hold.
# (A JSON text can only bring a lone surrogate, which msgspec refuses before
# this check; strings from query strings and forms are checked here.)
CLEAN_TEXT = "^[^\x00\ud800-\udfff]*$"

Int64 = Annotated[int, Meta(ge=INT64_MIN, le=INT64_MAX)]
"""Ids and sequence numbers: PostgreSQL bigints."""

Count = Annotated[int, Meta(ge=0, le=INT64_MAX)]
"""A sequence number or count that may be 0 but never negative."""

Positive = Annotated[int, Meta(ge=1, le=INT64_MAX)]

HistoryLimit = Annotated[int, Meta(ge=1, le=HISTORY_LIMIT_MAX)]

Text = Annotated[str, Meta(pattern=CLEAN_TEXT)]
"""Any text a client sends that may be stored or searched."""

Emoji = Annotated[str, Meta(min_length=1, max_length=EMOJI_MAX_CHARS, pattern=CLEAN_TEXT)]
"""A reaction, before the check that it is one emoji (``chat.emoji``)."""

ClientId = Annotated[str, Meta(min_length=1, max_length=CLIENT_ID_MAX, pattern=CLEAN_TEXT)]

Username = Annotated[str, Meta(max_length=30, pattern=CLEAN_TEXT)]
Email = Annotated[str, Meta(max_length=254, pattern=CLEAN_TEXT)]
Login = Annotated[str, Meta(max_length=254, pattern=CLEAN_TEXT)]
"""A username or an email address."""
Password = Annotated[str, Meta(max_length=4096, pattern=CLEAN_TEXT)]


def iso_utc(moment: datetime) -> str:
    """The wire form of a time: ISO 8601 in UTC with a Z."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
