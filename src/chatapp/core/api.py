"""Helpers every JSON API view uses: method and login checks, JSON bodies,
typed field parsing, and the Error shape for anything that goes wrong."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from functools import wraps
from typing import Any, TypeVar

from django.http import HttpRequest, HttpResponseBase

from chatapp.core.errors import ApiError, error_response

View = Callable[..., Coroutine[Any, Any, HttpResponseBase]]
T = TypeVar("T")


def api_view(*methods: str, login: bool = True) -> Callable[[View], View]:
    """Wrap an async API view: allowed methods, optional login, Error shape on ApiError."""
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

        return wrapper

    return decorator


def read_json(request: HttpRequest) -> dict[str, Any]:
    """The request body as a JSON object; an empty body is an empty object."""
    if not request.body:
        return {}
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError("invalid", "The body is not valid JSON.") from exc
    if not isinstance(data, dict):
        raise ApiError("invalid", "The body must be a JSON object.")
    return data


def parse_fields(data: dict[str, Any], spec: dict[str, type]) -> dict[str, Any]:
    """Check that each named field is present with the JSON type given.

    ``int`` does not accept booleans; all errors are reported together.
    """
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    for name, kind in spec.items():
        if name not in data or data[name] is None:
            errors[name] = ["This field is required."]
            continue
        value = data[name]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            errors[name] = [f"Expected {_json_type_name(kind)}."]
            continue
        values[name] = value
    if errors:
        raise ApiError("invalid", "Some fields are missing or invalid.", fields=errors)
    return values


def _json_type_name(kind: type) -> str:
    return {str: "a string", int: "an integer", bool: "a boolean", list: "a list"}.get(
        kind, kind.__name__
    )


def form_errors(form_errors_dict: Any) -> dict[str, list[str]]:
    """Django form errors as the ``fields`` map of the Error shape."""
    return {
        ("non_field" if name == "__all__" else name): [str(message) for message in messages]
        for name, messages in form_errors_dict.items()
    }
