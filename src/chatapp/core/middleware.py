"""Small async middleware."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from asgiref.sync import markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import add_never_cache_headers

GetResponse = Callable[[HttpRequest], Awaitable[HttpResponseBase]]

# Answers of the JSON API are private to the user who asked (PROTOCOL.md).
API_PREFIX = "/api/"


def security_headers(
    get_response: GetResponse,
) -> Callable[[HttpRequest], Awaitable[HttpResponseBase]]:
    """Adds the Content-Security-Policy and related headers to every response,
    and ``Cache-Control: no-store`` to every JSON API answer (errors and
    throttled answers included), so no browser or proxy keeps a user's data."""
    policy = settings.CONTENT_SECURITY_POLICY

    async def middleware(request: HttpRequest) -> HttpResponseBase:
        response = await get_response(request)
        if policy:
            response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=()"
        )
        response.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        if request.path.startswith(API_PREFIX):
            add_never_cache_headers(response)
        return response

    markcoroutinefunction(middleware)
    return middleware


security_headers.async_capable = True  # type: ignore[attr-defined]
security_headers.sync_capable = False  # type: ignore[attr-defined]


def resolve_user(get_response: GetResponse) -> Callable[[HttpRequest], Awaitable[HttpResponseBase]]:
    """Load the session's user once, asynchronously, so that templates and
    views may read ``request.user`` from async code without touching the database."""

    async def middleware(request: HttpRequest) -> HttpResponseBase:
        request.user = await request.auser()
        return await get_response(request)

    markcoroutinefunction(middleware)
    return middleware


resolve_user.async_capable = True  # type: ignore[attr-defined]
resolve_user.sync_capable = False  # type: ignore[attr-defined]
