"""The login lock through django-axes: what counts as one account, and what a
locked-out client is told."""

from __future__ import annotations

import math
import unicodedata
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from chatapp.accounts.selectors import user_for_login
from chatapp.core.errors import error_response, wants_json

# The length of django-axes' username column.
KEY_MAX_CHARS = 255


def login_name(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """The key failures are counted and locked under: the account the typed
    login reaches, whatever spelling reached it (its username, its e-mail
    address, another case, a Unicode spelling PostgreSQL folds to it), so
    every way into one account shares one lock. A login that reaches no
    account is counted under a normalized form of itself.

    axes asks several times per attempt; the lookup is made once a request."""
    typed = str((credentials or {}).get("username") or "")
    cache: dict[str, str] = request.__dict__.setdefault("_login_keys", {})
    if typed not in cache:
        cache[typed] = account_key(typed)
    return cache[typed]


def account_key(typed: str) -> str:
    user = user_for_login(typed)
    if user is not None:
        return user.username.lower()
    # Folded as PostgreSQL's UPPER() folds (the dotless i and the long s too), and storable.
    folded = unicodedata.normalize("NFKC", typed.strip()).upper().casefold()
    storable = folded.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")
    return storable[:KEY_MAX_CHARS]


def retry_after_seconds() -> int:
    return math.ceil(settings.AXES_COOLOFF_TIME.total_seconds())


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    seconds = retry_after_seconds()
    detail = (
        f"Too many failed logins for this account. Try again in {math.ceil(seconds / 60)} minutes."
    )
    headers = {"Retry-After": str(seconds)}
    if wants_json(request):
        return error_response("rate_limited", detail, headers=headers)
    response = render(request, "accounts/locked_out.html", {"detail": detail}, status=429)
    response["Retry-After"] = str(seconds)
    return response
