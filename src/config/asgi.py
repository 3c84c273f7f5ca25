"""The one ASGI application: pages, the JSON API, static files and /ws/."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from channels.routing import ProtocolTypeRouter
from django.core.asgi import get_asgi_application

# Django must be set up before anything imports models.
django_http = get_asgi_application()

from config.lifespan import Lifespan  # noqa: E402

application = Lifespan(
    ProtocolTypeRouter({"http": django_http}),
    startup=[],
    shutdown=[],
)
