"""The one ASGI application: pages, the JSON API, static files, /metrics and /ws/,
each request and socket with its request id, access log line and metrics."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from asgiref.typing import ASGIReceiveCallable, ASGISendCallable, Scope
from django.core.asgi import get_asgi_application

# Django must be set up before anything imports models.
django_http = get_asgi_application()

from chatapp.chat import sql  # noqa: E402
from chatapp.chat.socket import ChatEndpoint  # noqa: E402
from chatapp.core import exposition  # noqa: E402
from chatapp.core.access import Observed  # noqa: E402
from chatapp.realtime import drain  # noqa: E402
from chatapp.realtime.hub import close_hub, hub, use_source  # noqa: E402
from chatapp.realtime.socket import SocketApp  # noqa: E402
from config.lifespan import Lifespan  # noqa: E402

endpoint = ChatEndpoint()
use_source(endpoint.source)
sockets = SocketApp(endpoint)


async def router(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    if scope["type"] == "websocket":
        if scope["path"] == "/ws/":
            await sockets(scope, receive, send)
        else:
            await receive()  # the connect
            await send({"type": "websocket.close", "code": 1000, "reason": None})
        return
    if scope["type"] == "http" and scope["path"] == "/metrics":
        await exposition.metrics(scope, receive, send)
        return
    await django_http(scope, receive, send)  # type: ignore[arg-type]


async def _open_pool() -> None:
    await sql.open_pool()


async def _start_hub() -> None:
    await hub().start()
    drain.install()


application = Lifespan(
    Observed(router),
    startup=[_open_pool, _start_hub],
    shutdown=[close_hub, sql.close_pool],
)
