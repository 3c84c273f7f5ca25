"""The token shapes of the wire contract (never the token itself, but once)."""

from __future__ import annotations

from chatapp import wire
from chatapp.tokens.models import ApiToken


def token_shape(token: ApiToken) -> wire.Token:
    return wire.Token(
        id=token.pk,
        name=token.name,
        created_at=wire.iso_utc(token.created_at),
        last_used_at=wire.iso_utc(token.last_used_at) if token.last_used_at else None,
    )


def new_token_shape(token: ApiToken, secret: str) -> wire.NewToken:
    return wire.NewToken(
        id=token.pk, name=token.name, token=secret, created_at=wire.iso_utc(token.created_at)
    )
