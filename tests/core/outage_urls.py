"""The app's URLs plus views that fail on purpose, for tests/core/test_errors.py."""

from __future__ import annotations

from django.db import OperationalError
from django.http import HttpRequest, HttpResponse
from django.urls import path

from chatapp.core.outages import Unavailable
from config.urls import handler400, handler403, handler404, handler500, urlpatterns

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]


async def database_down(request: HttpRequest) -> HttpResponse:
    raise OperationalError("connection failed: connection refused\n\tIs the server running?")


async def unavailable(request: HttpRequest) -> HttpResponse:
    raise Unavailable("Messages are briefly read-only.")


async def bug(request: HttpRequest) -> HttpResponse:
    raise ValueError("a bug, not an outage")


urlpatterns = [
    path("api/test/database-down", database_down),
    path("api/test/unavailable", unavailable),
    path("api/test/bug", bug),
    path("test/database-down", database_down),
    path("test/bug", bug),
    *urlpatterns,
]
