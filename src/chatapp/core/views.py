from __future__ import annotations

import asyncio
import logging
import mimetypes
from pathlib import Path
from typing import Literal

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse
from django.utils._os import safe_join
from django.views.decorators.http import require_safe

from chatapp import wire
from chatapp.core import openapi
from chatapp.core.api import api_view
from chatapp.core.apidoc import operation
from chatapp.core.errors import json_response
from chatapp.core.files import FILE_POLICY
from chatapp.core.outages import RETRY_AFTER_SECONDS

logger = logging.getLogger(__name__)

HEALTH_TIMEOUT = 2.0


def _database_ok() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone() == (1,)


async def _check(name: str, probe: asyncio.Future[object] | object) -> Literal["ok", "down"]:
    try:
        await asyncio.wait_for(probe, HEALTH_TIMEOUT)  # type: ignore[arg-type]
    except Exception:
        # An outage's traceback is cut to one line by chatapp.core.logs.
        logger.warning("healthz: %s check failed", name, exc_info=True)
        return "down"
    return "ok"


async def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness and readiness: the database and the channel layer answer."""
    layer = get_channel_layer()
    db = await _check("db", sync_to_async(_database_ok)())
    layer_state = await _check("layer", layer.group_send("healthz", {"type": "healthz"}))
    ok = db == "ok" and layer_state == "ok"
    body = wire.Health(status="ok" if ok else "unavailable", db=db, layer=layer_state)
    headers = {"Cache-Control": "no-store"}
    if not ok:
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response = json_response(body, status=200 if ok else 503, headers=headers)
    # _check has logged why; Django would add an error line per poll.
    response._has_been_logged = not ok  # type: ignore[attr-defined]
    return response


@require_safe
async def media(request: HttpRequest, path: str) -> HttpResponse:
    """Uploaded files (avatars). nginx serves /media/ itself in production."""
    try:
        full = Path(safe_join(settings.MEDIA_ROOT, path))
    except Exception as exc:
        raise Http404 from exc
    if not await asyncio.to_thread(full.is_file):
        raise Http404
    content_type = mimetypes.guess_type(full.name)[0] or "application/octet-stream"
    response = HttpResponse(await asyncio.to_thread(full.read_bytes), content_type=content_type)
    # Avatar files get a new name on every change, so they may be cached for long.
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    response["Content-Security-Policy"] = FILE_POLICY
    return response


@operation(
    "GET",
    "This document: the OpenAPI 3.1 description of the JSON API",
    answers={200: dict},
)
@api_view("GET", login=False)
async def openapi_json(request: HttpRequest) -> HttpResponse:
    return HttpResponse(openapi.document_bytes(), content_type="application/json")
