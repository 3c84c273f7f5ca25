"""``GET /metrics``: the Prometheus text format, for the networks of
``METRICS_ALLOWED_NETWORKS`` only (loopback by default), 403 for anyone else.

A plain ASGI application in front of Django: a scraper asks a worker's own
port by its address (``127.0.0.1:8001``), which a deployment's
``ALLOWED_HOSTS`` and ``HTTPS`` redirect would refuse, and a scrape needs no
session, CSRF or user. The client is the address uvicorn resolved from the
trusted proxies (``chatapp.core.clients``): behind nginx on the same host the
peer is 127.0.0.1 but the client is whoever nginx says it is, so the outside
world is refused here too, whatever nginx lets through.
"""

from __future__ import annotations

import os

from asgiref.typing import ASGIReceiveCallable, ASGISendCallable, HTTPScope
from django.conf import settings
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess
from prometheus_client.exposition import choose_encoder

from chatapp.core.clients import scope_client_ip, within
from chatapp.core.metrics_dir import MULTIPROC_DIR_VARIABLE


def registry() -> CollectorRegistry:
    """Every worker's values when the server runs in multiprocess mode, else
    this process's own (with its process and Python collectors)."""
    path = os.environ.get(MULTIPROC_DIR_VARIABLE)
    if not path:
        return REGISTRY
    merged = CollectorRegistry()
    multiprocess.MultiProcessCollector(merged, path=path)
    return merged


def allowed(scope: HTTPScope) -> bool:
    return within(scope_client_ip(scope), settings.METRICS_ALLOWED_NETWORKS)


async def metrics(scope: HTTPScope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    if not allowed(scope):
        await _answer(send, 403, b"text/plain; charset=utf-8", b"Forbidden\n")
        return
    if scope["method"] not in {"GET", "HEAD"}:
        await _answer(send, 405, b"text/plain; charset=utf-8", b"Method Not Allowed\n", allow=True)
        return
    accept = b",".join(value for name, value in scope["headers"] if name == b"accept")
    encoder, content_type = choose_encoder(accept.decode("latin-1"))
    # A few small files per worker: reading them on the loop is cheaper than a thread hop.
    body = encoder(registry())
    await _answer(send, 200, content_type.encode(), b"" if scope["method"] == "HEAD" else body)


async def _answer(
    send: ASGISendCallable, status: int, content_type: bytes, body: bytes, *, allow: bool = False
) -> None:
    headers = [(b"content-type", content_type), (b"cache-control", b"no-store")]
    if allow:
        headers.append((b"allow", b"GET, HEAD"))
    await send(
        {"type": "http.response.start", "status": status, "headers": headers, "trailers": False}
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})
