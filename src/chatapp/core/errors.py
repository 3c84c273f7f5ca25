"""The Error shape of the wire contract, and the handlers that keep every
failure in it: ``{"error": {"code", "detail", "fields"?}}``."""

from __future__ import annotations

import logging
import sys

from django.core.exceptions import BadRequest, RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string

from chatapp import wire
from chatapp.core.logs import outage_summary
from chatapp.core.outages import RETRY_AFTER_SECONDS, Unavailable, is_outage

logger = logging.getLogger(__name__)

# The HTTP status each error code answers with.
STATUS_BY_CODE = {
    "invalid": 400,
    "not_authenticated": 401,
    "forbidden": 403,
    "not_author": 403,
    "edit_window": 403,
    "csrf_failed": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "conflict": 409,
    "too_large": 413,
    "unsupported_media_type": 415,
    "rate_limited": 429,
    "server_error": 500,
    "unavailable": 503,
}


class ApiError(Exception):
    """Raised anywhere below an API view; rendered as the Error shape."""

    def __init__(
        self,
        code: str,
        detail: str,
        *,
        fields: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.fields = fields
        self.headers = headers or {}

    @property
    def status(self) -> int:
        return STATUS_BY_CODE[self.code]


class BadInput(ApiError, BadRequest):
    """Input refused at the edge (``chatapp.core.api``): the API answers with
    the Error shape like any ApiError; on a page Django's 400 handler
    (``bad_request``) renders it."""

    def __init__(
        self, detail: str, fields: dict[str, list[str]] | None = None, *, code: str = "invalid"
    ) -> None:
        super().__init__(code, detail, fields=fields or None)

    @classmethod
    def from_wire(cls, exc: wire.WireError) -> BadInput:
        return cls(exc.detail, exc.fields)


def json_response(
    value: object, *, status: int = 200, headers: dict[str, str] | None = None
) -> HttpResponse:
    """An answer of the JSON API: a wire type, encoded by its one serializer."""
    return HttpResponse(
        wire.encode(value), status=status, headers=headers, content_type="application/json"
    )


def error_response(
    code: str,
    detail: str,
    *,
    fields: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
    status: int | None = None,
) -> HttpResponse:
    error = wire.ErrorDetail(code=code, detail=detail)
    if fields:
        error.fields = fields
    return json_response(
        wire.Error(error=error), status=status or STATUS_BY_CODE[code], headers=headers
    )


def wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    detail = "CSRF check failed: send the csrftoken cookie's value in the X-CSRFToken header."
    if wants_json(request):
        return error_response("csrf_failed", detail)
    return render(request, "errors/403.html", {"detail": detail}, status=403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if wants_json(request):
        return error_response("not_found", "No such resource.")
    return render(request, "errors/404.html", status=404)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if wants_json(request):
        return error_response("forbidden", "You may not do that.")
    return render(request, "errors/403.html", {"detail": "You may not do that."}, status=403)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's 400: input refused at the edge (``BadInput``, a path id beyond
    64 bits among them) with its detail, or a body over Django's own limit."""
    if isinstance(exception, RequestDataTooBig):
        exception = BadInput("The request body is too large.", code="too_large")
    if isinstance(exception, ApiError):
        if wants_json(request):
            return error_response(exception.code, exception.detail, fields=exception.fields)
        context = {"detail": exception.detail}
        return render(request, "errors/400.html", context, status=exception.status)
    if wants_json(request):
        return error_response("invalid", "Bad request.")
    return render(request, "errors/400.html", status=400)


def server_error(request: HttpRequest) -> HttpResponse:
    """Every uncaught exception ends here, and a dependency outage is a 503.

    Django wraps each middleware and the view in ``convert_exception_to_response``,
    which turns an exception into this handler's response right where it is
    raised. So a middleware placed outermost never sees the exception of the
    session middleware, ``resolve_user`` or a view: it would get a finished 500.
    This handler is the one place every layer reaches, and ``sys.exc_info()``
    still holds the exception here (asgiref re-raises it in the thread that runs
    the handler). With ``DEBUG`` on, Django shows its debug page instead.
    """
    exc = sys.exc_info()[1]
    if exc is not None and is_outage(exc):
        return unavailable(request, exc)
    if wants_json(request):
        return error_response("server_error", "Something went wrong on our side.")
    return render(request, "errors/500.html", status=500)


def unavailable(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """503 with ``Retry-After``: the Error shape for the API, a page otherwise.

    The page is rendered without the request's context processors, since they
    may read the session or the user, which is what just failed. The outage
    is logged here in one line; Django's own error log (a traceback per
    request, per layer) is skipped through the flag its ``log_response`` checks.
    """
    detail = exc.detail if isinstance(exc, Unavailable) else Unavailable().detail
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    response: HttpResponse
    if wants_json(request):
        response = error_response("unavailable", detail, headers=headers)
    else:
        html = render_to_string("errors/503.html", {"detail": detail})
        response = HttpResponse(html, status=503, headers=headers)
    logger.warning(
        "503 %s %s: a dependency is down: %s", request.method, request.path, outage_summary(exc)
    )
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response
