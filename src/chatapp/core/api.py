"""The HTTP edge: method and login checks, and the one way in for what a
request carries (JSON bodies, query strings, form fields), each read into its
wire type (``chatapp.wire``) or refused with 400 and the field at fault, never
a 500. Answers go out through ``chatapp.core.errors.json_response``."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from functools import wraps
from typing import Any, TypeVar

import msgspec
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase, QueryDict

from chatapp import wire
from chatapp.core.errors import ApiError, BadInput, error_response

View = Callable[..., Coroutine[Any, Any, HttpResponseBase]]
T = TypeVar("T")


def api_view(*methods: str, login: bool = True) -> Callable[[View], View]:
    """Wrap an async API view: allowed methods, optional login, Error shape on ApiError.

    The wrapper keeps both as ``api_methods`` and ``api_login``: the OpenAPI
    document (``chatapp.core.openapi``) reads them from the URLconf."""
    allowed = ", ".join(methods)

    def decorator(view: View) -> View:
        @wraps(view)
        async def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if request.method not in methods:
                return error_response(
                    "method_not_allowed",
                    f"Use {allowed}.",
                    headers={"Allow": allowed},
                )
            if login:
                user = await request.auser()
                if not user.is_authenticated:
                    return error_response("not_authenticated", "Log in first.")
            try:
                return await view(request, *args, **kwargs)
            except ApiError as exc:
                return error_response(exc.code, exc.detail, fields=exc.fields, headers=exc.headers)

        vars(wrapper).update(api_methods=methods, api_login=login)
        return wrapper

    return decorator


def read_body(request: HttpRequest, kind: type[T]) -> T:
    """The JSON body as ``kind``: 415 unless it is JSON, 413 over
    ``API_BODY_MAX_BYTES`` (checked before reading), 400 with every field at
    fault otherwise. An empty body is an empty object."""
    if request.content_type != "application/json" and _length(request) != 0:
        raise BadInput("Send the body as application/json.", code="unsupported_media_type")
    limit = settings.API_BODY_MAX_BYTES
    if _length(request) > limit or len(request.body) > limit:
        raise BadInput(f"A JSON body is at most {limit} bytes.", code="too_large")
    try:
        return wire.decode_json(request.body or b"{}", kind)
    except wire.WireError as exc:
        raise BadInput.from_wire(exc) from None


def _length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def read_query(request: HttpRequest, kind: type[T]) -> T:
    """The query string as ``kind`` (for the API and for pages alike)."""
    return _read_strings(request.GET, kind)


def read_form(request: HttpRequest, kind: type[T]) -> T:
    """A page's form fields as ``kind``: fields a Django form does not cover."""
    return _read_strings(request.POST, kind)


def _read_strings(data: QueryDict, kind: type[T]) -> T:
    repeated = {
        info.encode_name: ["Given more than once."]
        for info in msgspec.structs.fields(kind)  # type: ignore[arg-type]
        if len(data.getlist(info.encode_name)) > 1
    }
    if repeated:  # else the last would win, unseen
        raise BadInput("Some fields are missing or invalid.", repeated)
    try:
        return wire.decode_strings({name: str(value) for name, value in data.items()}, kind)
    except wire.WireError as exc:
        raise BadInput.from_wire(exc) from None


def form_errors(form_errors_dict: Any) -> dict[str, list[str]]:
    """Django form errors as the ``fields`` map of the Error shape."""
    return {
        ("non_field" if name == "__all__" else name): [str(message) for message in messages]
        for name, messages in form_errors_dict.items()
    }
