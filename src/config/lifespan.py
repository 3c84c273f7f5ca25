"""A small typed ASGI wrapper that runs startup and shutdown hooks on the
ASGI lifespan protocol and hands every other scope to the wrapped app."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from asgiref.typing import ASGI3Application, ASGIReceiveCallable, ASGISendCallable, Scope

logger = logging.getLogger(__name__)

Hook = Callable[[], Awaitable[None]]

# A shutdown hook that has not finished by then is abandoned: a worker that
# hangs in "Waiting for application shutdown" never finishes a rolling restart.
SHUTDOWN_HOOK_TIMEOUT = 5.0


class Lifespan:
    def __init__(
        self, app: ASGI3Application, *, startup: Sequence[Hook] = (), shutdown: Sequence[Hook] = ()
    ) -> None:
        self.app = app
        self.startup = tuple(startup)
        self.shutdown = tuple(shutdown)

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
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
                        await asyncio.wait_for(hook(), SHUTDOWN_HOOK_TIMEOUT)
                    except Exception:
                        failed = True
                        logger.exception("shutdown hook %r failed", hook)
                if failed:
                    await send({"type": "lifespan.shutdown.failed", "message": ""})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                return
