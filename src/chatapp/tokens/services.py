"""Every write to API tokens, and the lookup of a presented token.

A token is ``chat_`` and 43 URL-safe characters (32 random bytes). The
server keeps only its SHA-256; a presented token is hashed and looked up by
that digest, whatever its shape, so a malformed, unknown or revoked token all
take the same path and get the same answer."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chatapp.accounts.models import User
from chatapp.tokens.models import ApiToken

PREFIX = "chat_"
NAME_MAX = 100
# last_used_at is written at most this often per token (seconds).
LAST_USED_EVERY = 60.0
# Longer than any token: what reaches the hash is bounded.
PRESENTED_MAX = 200


class TokenError(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class NewToken:
    token: ApiToken
    secret: str  # shown once, never stored


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def presented_digest(presented: str) -> str:
    """The digest to look a presented token up by (HTTP and socket alike);
    what reaches the hash is bounded."""
    return digest(presented[:PRESENTED_MAX])


def token_create(*, user: User, name: str) -> NewToken:
    """A new token for ``user``; at most MAX_TOKENS_PER_USER each (else ``conflict``)."""
    name = name.strip()
    if not name or len(name) > NAME_MAX:
        raise TokenError("invalid", f"A token's name is 1 to {NAME_MAX} characters.")
    secret = PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        # Lock the user's row so two creations at once cannot pass the limit.
        User.objects.select_for_update().filter(pk=user.pk).first()
        if ApiToken.objects.filter(user=user).count() >= settings.MAX_TOKENS_PER_USER:
            raise TokenError(
                "conflict",
                f"A user has at most {settings.MAX_TOKENS_PER_USER} tokens: revoke one first.",
            )
        token = ApiToken.objects.create(user=user, name=name, digest=digest(secret))
    return NewToken(token=token, secret=secret)


def tokens_create_in_bulk(*, users: list[User], name: str) -> list[str]:
    """One token for each user (their first: no limit to check), for load tests."""
    secrets_ = [PREFIX + secrets.token_urlsafe(32) for _ in users]
    ApiToken.objects.bulk_create(
        [
            ApiToken(user=user, name=name, digest=digest(secret))
            for user, secret in zip(users, secrets_, strict=True)
        ],
        batch_size=1000,
    )
    return secrets_


def token_revoke(*, user: User, token_id: int) -> bool:
    """Delete one of ``user``'s tokens; False when there is none with that id."""
    deleted, _ = ApiToken.objects.filter(user=user, pk=token_id).delete()
    # Its sockets close with 4401 at the session watcher's next check (each
    # second, every worker: realtime.sessions), which sees the row is gone.
    return bool(deleted)


async def token_user(presented: str) -> tuple[User, ApiToken] | None:
    """The active user a presented token belongs to, and the token; None otherwise."""
    wanted = presented_digest(presented)
    found = await (
        ApiToken.objects.select_related("user").filter(digest=wanted, user__is_active=True).afirst()
    )
    if found is None or not hmac.compare_digest(found.digest, wanted):
        return None
    await token_touch(found)
    return found.user, found


_touched: dict[int, float] = {}


async def token_touch(token: ApiToken) -> None:
    """Record a use, at most once a minute per token: in this worker by the
    clock, across workers by the condition in the UPDATE."""
    now = time.monotonic()
    if now - _touched.get(token.pk, -LAST_USED_EVERY) < LAST_USED_EVERY:
        return
    if len(_touched) >= 100_000:  # bounded; forgetting only costs a write
        _touched.clear()
    _touched[token.pk] = now
    cutoff = timezone.now() - timedelta(seconds=LAST_USED_EVERY)
    await (
        ApiToken.objects.filter(pk=token.pk)
        .exclude(last_used_at__gt=cutoff)
        .aupdate(last_used_at=timezone.now())
    )
