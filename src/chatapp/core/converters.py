"""Path converters of every urls.py: a path's ids and names are checked where
the URL is matched, so no view receives a value PostgreSQL cannot hold.
Registered once, in ``CoreConfig.ready``."""

from __future__ import annotations

from chatapp import wire
from chatapp.core.errors import BadInput


class IdConverter:
    """``<id:name>``: a bigint id. Beyond 64 bits is 400 (API: the Error shape)."""

    regex = "[0-9]+"

    def to_python(self, value: str) -> int:
        # No int() of thousands of digits: 19 is as many as a bigint has.
        if len(value) > 19 or int(value) > wire.INT64_MAX:
            raise BadInput(
                "A number in the path is beyond 64-bit integers.",
                {"path": [f"Ids are at most {wire.INT64_MAX}."]},
            )
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


class NameConverter:
    """``<name:name>``: like ``str``, but a NUL character (which PostgreSQL text
    refuses) makes the path match nothing: 404."""

    regex = "[^/\x00]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
