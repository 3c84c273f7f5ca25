"""JSON API of tokens (PROTOCOL.md, "Bots and load testers")."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse

from chatapp import wire
from chatapp.accounts.api import current_user
from chatapp.core.api import api_view, read_body
from chatapp.core.apidoc import operation
from chatapp.core.errors import ApiError, json_response
from chatapp.tokens import services
from chatapp.tokens.models import ApiToken
from chatapp.tokens.serializers import new_token_shape, token_shape


@operation("GET", "The caller's API tokens (never the tokens)", answers={200: wire.Tokens})
@operation(
    "POST",
    "Make an API token, shown this once",
    body=wire.TokenBody,
    answers={201: wire.NewToken},
    errors={
        400: "A name that is blank or over 100 characters.",
        409: "The caller already holds MAX_TOKENS_PER_USER tokens.",
    },
)
@api_view("GET", "POST")
async def tokens(request: HttpRequest) -> HttpResponse:
    user = await current_user(request)
    if request.method == "GET":
        found = [token async for token in ApiToken.objects.filter(user=user)]
        return json_response(wire.Tokens(results=[token_shape(token) for token in found]))
    name = read_body(request, wire.TokenBody).name
    try:
        new = await sync_to_async(services.token_create)(user=user, name=name)
    except services.TokenError as exc:
        fields = {"name": [exc.detail]} if exc.code == "invalid" else None
        raise ApiError(exc.code, exc.detail, fields=fields) from exc
    return json_response(new_token_shape(new.token, new.secret), status=201)


@operation(
    "DELETE",
    "Revoke an API token; its sockets close with 4401",
    answers={204: None},
    errors={404: "No such token of the caller's."},
)
@api_view("DELETE")
async def token(request: HttpRequest, token_id: int) -> HttpResponse:
    user = await current_user(request)
    if not await sync_to_async(services.token_revoke)(user=user, token_id=token_id):
        raise ApiError("not_found", "No such token.")
    return HttpResponse(status=204)
