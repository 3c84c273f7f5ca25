"""JSON API of accounts (PROTOCOL.md): csrf, register, login, logout, me; and,
added by this server, logout-all. The people search (``/api/users``) shows
relations, so it lives in the friends app."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.contrib.auth import aauthenticate, alogin
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from msgspec import UNSET
from msgspec.structs import asdict

from chatapp import wire
from chatapp.accounts import services
from chatapp.accounts.forms import RegisterForm
from chatapp.accounts.models import User
from chatapp.accounts.serializers import me_shape, user_shape
from chatapp.core.api import api_view, form_errors, read_body
from chatapp.core.apidoc import operation
from chatapp.core.errors import ApiError, json_response
from chatapp.core.throttle import throttled


async def current_user(request: HttpRequest) -> User:
    user = await request.auser()
    if not isinstance(user, User):  # api_view(login=True) lets only users through
        raise ApiError("not_authenticated", "Log in first.")
    return user


@operation("GET", "Get a CSRF token, and its cookie", answers={200: wire.CsrfToken})
@api_view("GET", login=False)
async def csrf(request: HttpRequest) -> HttpResponse:
    return json_response(wire.CsrfToken(csrf_token=get_token(request)))


@operation(
    "POST",
    "Register, and be logged in",
    body=wire.RegisterBody,
    answers={201: wire.UserAnswer},
    errors={400: "A field the registration refuses (taken, too short, ...), named in `fields`."},
)
@api_view("POST", login=False)
@throttled("register")
async def register(request: HttpRequest) -> HttpResponse:
    form = RegisterForm(asdict(read_body(request, wire.RegisterBody)))
    if not await sync_to_async(form.is_valid)():
        raise ApiError("invalid", "Registration failed.", fields=form_errors(form.errors))
    try:
        user = await sync_to_async(form.register)()
    except ValidationError as exc:
        raise ApiError("invalid", "Registration failed.", fields=form_errors(form.errors)) from exc
    await alogin(request, user, backend="chatapp.accounts.backends.UsernameOrEmailBackend")
    return json_response(wire.UserAnswer(user=user_shape(user)), status=201)


@operation(
    "POST",
    "Log in with a username or an e-mail address",
    body=wire.LoginBody,
    answers={200: wire.UserAnswer},
    errors={
        400: "Wrong username, e-mail or password.",
        429: "The account is locked after LOGIN_FAILURE_LIMIT failures.",
    },
)
@api_view("POST", login=False)
@throttled("login")
async def login(request: HttpRequest) -> HttpResponse:
    body = read_body(request, wire.LoginBody)
    user = await aauthenticate(request, username=body.login, password=body.password)
    if user is None:
        # When this failure locks the account, AxesMiddleware answers 429 instead.
        raise ApiError("invalid", "Wrong username, email or password.")
    await alogin(request, user)
    return json_response(wire.UserAnswer(user=user_shape(user)))


@operation("POST", "End this session; its sockets close with 4401", answers={204: None})
@api_view("POST", login=False)
async def logout(request: HttpRequest) -> HttpResponse:
    await services.user_logout(request=request)
    return HttpResponse(status=204)


@operation(
    "POST",
    "End every session of the user, this one included (added by this server)",
    answers={204: None},
    description="API tokens stay valid: revoke those with DELETE /api/tokens/{token_id}.",
)
@api_view("POST")
async def logout_all(request: HttpRequest) -> HttpResponse:
    """End every session of the user, this one included; all their sockets close."""
    user = await current_user(request)
    await sync_to_async(services.user_logout_everywhere)(user=user)
    await services.user_logout(request=request)
    return HttpResponse(status=204)


@operation("GET", "The logged-in user, with their own settings", answers={200: wire.Me})
@operation(
    "PATCH",
    "Change the caller's own settings (read receipts, language); others stay",
    body=wire.MeSettingsBody,
    answers={200: wire.Me},
)
@api_view("GET", "PATCH")
async def me(request: HttpRequest) -> HttpResponse:
    user = await current_user(request)
    if request.method == "PATCH":
        body = read_body(request, wire.MeSettingsBody)
        changes = {k: v for k, v in asdict(body).items() if v is not UNSET}
        if changes:
            user = await sync_to_async(services.user_settings_update)(user=user, **changes)
    return json_response(me_shape(user))
