"""The one ASGI application: pages, the JSON API, static files and /ws/."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.core.asgi import get_asgi_application

# Django must be set up before anything imports models.
django_http = get_asgi_application()

from chatapp.chat import sql  # noqa: E402
from chatapp.realtime.auth import SessionAuthMiddleware  # noqa: E402
from chatapp.realtime.hub import close_hub  # noqa: E402
from chatapp.realtime.routing import websocket_urlpatterns  # noqa: E402
from config.lifespan import Lifespan  # noqa: E402


async def _open_pool() -> None:
    await sql.open_pool()


application = Lifespan(
    ProtocolTypeRouter(
        {
            "http": django_http,
            # A foreign or missing Origin is refused at the handshake.
            "websocket": AllowedHostsOriginValidator(
                SessionAuthMiddleware(URLRouter(websocket_urlpatterns))
            ),
        }
    ),
    startup=[_open_pool],
    shutdown=[close_hub, sql.close_pool],
)
