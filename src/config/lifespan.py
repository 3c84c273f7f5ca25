"""A small typed ASGI wrapper that runs startup and shutdown hooks on the
ASGI lifespan protocol and hands every other scope to the wrapped app."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Hook = Callable[[], Awaitable[None]]


class Lifespan:
    def __init__(
        self, app: ASGIApp, *, startup: Sequence[Hook] = (), shutdown: Sequence[Hook] = ()
    ) -> None:
        self.app = app
        self.startup = tuple(startup)
        self.shutdown = tuple(shutdown)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    for hook in self.startup:
                        await hook()
                except Exception as exc:
                    logger.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                # Every hook runs, even when one before it failed.
                failed = False
                for hook in reversed(self.shutdown):
                    try:
                        await hook()
                    except Exception:
                        failed = True
                        logger.exception("shutdown hook %r failed", hook)
                kind = "lifespan.shutdown.failed" if failed else "lifespan.shutdown.complete"
                await send({"type": kind, "message": ""} if failed else {"type": kind})
                return
