"""Login throttling through django-axes: what counts as one login name, and
what a locked-out client is told."""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from chatapp.core.errors import error_response, wants_json


def login_name(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """Failures count per login name, case-folded, as logins themselves are."""
    name = (credentials or {}).get("username") or request.POST.get("username") or ""
    return str(name).strip().lower()


def retry_after_seconds() -> int:
    return math.ceil(settings.AXES_COOLOFF_TIME.total_seconds())


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    seconds = retry_after_seconds()
    detail = (
        f"Too many failed logins for this account. Try again in {math.ceil(seconds / 60)} minutes."
    )
    headers = {"Retry-After": str(seconds)}
    if wants_json(request):
        return error_response("rate_limited", detail, headers=headers)
    response = render(request, "accounts/locked_out.html", {"detail": detail}, status=429)
    response["Retry-After"] = str(seconds)
    return response
