"""The access log and the HTTP metrics: a small ASGI wrapper around the app.

Every HTTP request gets a request id (its ``X-Request-ID`` when that is a
safe one, else a new one), echoed in the answer's ``X-Request-ID`` and named
by every log line written while it is served, and ends with one log line
(logger ``chatapp.http``: method, path, status, duration, request id) and
its count and duration in ``chatapp_http_requests_total`` and
``chatapp_http_request_seconds``. A socket handshake gets its id the same way
(the transport echoes it and logs the socket's lifetime, ``chatapp.ws``).

The line never holds the query string, a header, a cookie or a body; a path
that carries a secret (a password reset or e-mail confirmation link) shows
the name of the secret instead of its value.
"""

from __future__ import annotations

import logging
import time

from asgiref.typing import (
    ASGI3Application,
    ASGIReceiveCallable,
    ASGISendCallable,
    ASGISendEvent,
    Scope,
)
from django.http import Http404
from django.urls import resolve

from chatapp.core import metrics
from chatapp.core.logs import REQUEST_ID, REQUEST_ID_HEADER, request_id_of

logger = logging.getLogger("chatapp.http")

# Parts of a URL that are secrets (Django's password reset, our e-mail confirmation).
SECRET_URL_PARTS = frozenset({"token", "uidb64"})
PATH_MAX = 300  # characters of a path the log keeps
# The status of a request whose client left before it was answered (as nginx says).
CLIENT_CLOSED = 499


class Observed:
    """Wraps the ASGI app: request ids, the access log and the HTTP metrics."""

    def __init__(self, app: ASGI3Application) -> None:
        self.app = app

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] == "websocket":
            # Not ``send``: wrapping it would cost every frame of every socket.
            token = REQUEST_ID.set(request_id_of(scope["headers"]))
            try:
                await self.app(scope, receive, send)
            finally:
                REQUEST_ID.reset(token)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope["headers"])
        token = REQUEST_ID.set(request_id)
        echoed = (REQUEST_ID_HEADER, request_id.encode("ascii"))
        started = time.perf_counter()
        status: int | None = None

        async def send_with_id(message: ASGISendEvent) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", ()), echoed]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except BaseException:
            if status is None:
                status = 500  # what the server answers for an app that failed
            raise
        finally:
            seconds = time.perf_counter() - started
            answered = CLIENT_CLOSED if status is None else status
            metrics.http_answered(answered, seconds)
            path = loggable_path(scope["path"])
            logger.info(
                "%s %s %d %.1f ms",
                scope["method"],
                path,
                answered,
                seconds * 1000,
                extra={
                    "event": "http_request",
                    "method": scope["method"],
                    "path": path,
                    "status": answered,
                    "duration_ms": round(seconds * 1000, 3),
                },
            )
            REQUEST_ID.reset(token)


def loggable_path(path: str) -> str:
    """The path as the log may show it: printable, bounded, no secret."""
    shown = "".join(c if c.isprintable() else "?" for c in path[:PATH_MAX])
    if len(path) > PATH_MAX:
        shown += "..."
    try:
        match = resolve(path)
    except Http404:
        return shown
    except Exception:  # a log line must never fail its request
        return shown
    for name, value in match.kwargs.items():
        if name in SECRET_URL_PARTS and str(value):
            shown = shown.replace(str(value), f"<{name}>")
    return shown
