"""The Token shape of the wire contract (never the token itself, but once)."""

from __future__ import annotations

from typing import Any

from chatapp.tokens.models import ApiToken


def token_json(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.pk,
        "name": token.name,
        "created_at": token.created_at.isoformat(),
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
    }
