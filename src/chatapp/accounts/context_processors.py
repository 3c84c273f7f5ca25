"""Template context shared by every page."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from chatapp import wire
from chatapp.accounts.serializers import user_shape


def me(request: HttpRequest) -> dict[str, Any]:
    """The User shape of whoever is logged in, for the page's scripts
    (``json_script``); the session's user is already loaded by middleware."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"me": None}
    return {"me": wire.to_builtins(user_shape(user))}
