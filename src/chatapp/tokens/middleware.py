"""``Authorization: Bearer <token>`` on the JSON API (PROTOCOL.md, "Bots and
load testers").

A request with a Bearer token acts as the token's user, whatever session
cookie it also carries, and needs no CSRF token: cross-site request forgery
rides on cookies, and a valid token is not one. A token that is not valid
(malformed, unknown, revoked) is 401 at once, with no exemption. A token in the
URL is refused: URLs end up in logs. Other schemes (``Basic``, from a proxy's
own login) are left alone."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from asgiref.sync import markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase

from chatapp.accounts.models import User
from chatapp.core.errors import error_response
from chatapp.core.middleware import API_PREFIX
from chatapp.tokens.services import token_user

GetResponse = Callable[[HttpRequest], Awaitable[HttpResponseBase]]

NOT_VALID = "The token is not valid."
# Query parameters a client might put a token in.
URL_TOKEN_NAMES = ("token", "access_token", "api_token", "bearer")


def bearer_token(authorization: str) -> str | None:
    """The token of an ``Authorization: Bearer …`` value, "" if it is empty,
    None for another scheme."""
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip()


def token_in_url(query: dict[str, object] | object) -> bool:
    return any(name in query for name in URL_TOKEN_NAMES)  # type: ignore[operator]


def token_auth(get_response: GetResponse) -> Callable[[HttpRequest], Awaitable[HttpResponseBase]]:
    async def middleware(request: HttpRequest) -> HttpResponseBase:
        if not request.path.startswith(API_PREFIX):
            return await get_response(request)
        if token_in_url(request.GET):
            return error_response(
                "not_authenticated",
                "Send a token in the Authorization header, never in the URL.",
            )
        presented = bearer_token(request.headers.get("Authorization", ""))
        if presented is None:
            return await get_response(request)
        found = await token_user(presented) if presented else None
        if found is None:
            return error_response(
                "not_authenticated", NOT_VALID, headers={"WWW-Authenticate": "Bearer"}
            )
        user, token = found
        request.user = user

        async def auser() -> User:
            return user

        request.auser = auser
        request.api_token = token  # type: ignore[attr-defined]
        request._dont_enforce_csrf_checks = True  # type: ignore[attr-defined]
        return await get_response(request)

    markcoroutinefunction(middleware)
    return middleware


token_auth.async_capable = True  # type: ignore[attr-defined]
token_auth.sync_capable = False  # type: ignore[attr-defined]
