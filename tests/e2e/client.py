"""Black-box clients of a running server: the bench's own socket client
(``chatapp.bench.wsclient.Tab``) and registration over the JSON API, so tests
and benchmarks speak the wire one way."""

from __future__ import annotations

from chatapp.bench.users import register as register_user
from chatapp.bench.wsclient import Tab

__all__ = ["PASSWORD", "Tab", "register"]

PASSWORD = "correct horse battery staple"


async def register(base: str, username: str) -> str:
    """Register a user over HTTP; returns its session cookie value."""
    return await register_user(base, username, password=PASSWORD)
