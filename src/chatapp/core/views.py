from __future__ import annotations

import asyncio
import logging
import mimetypes
from typing import Literal

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.core.exceptions import SuspiciousOperation
from django.core.files.storage import default_storage
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse
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


def _stored_file(name: str) -> bytes | None:
    """The bytes stored under ``name`` in the media storage (this host's disk or
    the shared bucket), or None when there is no such file or the name leads
    out of the storage."""
    try:
        with default_storage.open(name, "rb") as file:
            return bytes(file.read())
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, SuspiciousOperation):
        return None


@require_safe
async def media(request: HttpRequest, path: str) -> HttpResponse:
    """Uploaded files (avatars), from the media storage. nginx serves /media/
    from disk itself when the storage is the local disk."""
    data = await asyncio.to_thread(_stored_file, path)
    if data is None:
        raise Http404
    content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    response = HttpResponse(data, content_type=content_type)
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
