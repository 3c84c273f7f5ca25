"""Graceful drain of a worker on SIGTERM (also what uvicorn sends each old
worker when SIGHUP restarts them one by one).

uvicorn's own shutdown closes every socket at the same instant, so every
client reconnects at once. Before handing over to it, a draining worker:

1. answers ``/readyz`` with 503 and refuses new sockets with 503, so a
   balancer and the clients go elsewhere;
2. closes its sockets with 1012 in small batches spread over
   ``DRAIN_SECONDS``, so they come back over that window, not in one spike;
3. lets each socket finish the frame it is handling (a send in flight is
   stored and acknowledged before its socket closes);
4. then calls uvicorn's own handler, which finishes HTTP requests within the
   rest of the graceful timeout and runs the lifespan shutdown.

A second SIGTERM skips the rest of the drain.
"""

from __future__ import annotations

import asyncio
import logging
import math
import signal
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from chatapp import wire
from chatapp.realtime import protocol

logger = logging.getLogger(__name__)

BATCH_INTERVAL = 0.05  # seconds between two batches of closes


async def readyz(request: HttpRequest) -> HttpResponse:
    """``/readyz``: whether this worker takes new work; 503 once it has begun
    to drain, so a balancer sends new connections elsewhere."""
    from chatapp.realtime.hub import hub

    headers = {"Cache-Control": "no-store", "Content-Type": "application/json"}
    if hub().draining:
        answer = wire.Readiness(status="draining")
        return HttpResponse(wire.encode(answer), status=503, headers=headers)
    return HttpResponse(wire.encode(wire.Readiness(status="ready")), headers=headers)


def install() -> None:
    """Put the drain before the server's own SIGTERM handler (at lifespan startup,
    after uvicorn installed its handlers; a no-op outside the main thread)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    from chatapp.realtime.hub import hub

    the_hub = hub()
    loop = asyncio.get_running_loop()
    previous = signal.getsignal(signal.SIGTERM)
    if not callable(previous):
        return

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        if the_hub.draining:
            previous(signum, frame)  # a second SIGTERM: stop draining, shut down now
            return
        the_hub.draining = True
        loop.call_soon_threadsafe(_start, the_hub, lambda: previous(signum, frame))

    signal.signal(signal.SIGTERM, on_sigterm)


def _start(the_hub: Any, then: Callable[[], None]) -> None:
    the_hub.drain_task = asyncio.get_running_loop().create_task(_drain_then(then))


async def _drain_then(then: Callable[[], None]) -> None:
    try:
        await drain(settings.DRAIN_SECONDS)
    except Exception:
        logger.exception("drain failed; shutting down at once")
    finally:
        then()


async def drain(seconds: float) -> None:
    """Close every socket of this worker with 1012, spread over ``seconds``."""
    from chatapp.realtime.hub import hub

    the_hub = hub()
    the_hub.draining = True
    sockets = [s for group in the_hub.users.values() for s in group]
    started = time.monotonic()
    logger.info("drain: closing %d sockets over %.1f s", len(sockets), seconds)
    # Evenly over the window: a batch every ``interval``, the last one just
    # before the window ends.
    batches = max(1, min(len(sockets), math.floor(seconds / BATCH_INTERVAL)))
    size = math.ceil(len(sockets) / batches) if sockets else 1
    interval = seconds / batches
    for index in range(0, len(sockets), size):
        for socket in sockets[index : index + size]:
            socket.close_soon(protocol.CLOSE_RESTARTING)
        if index + size < len(sockets):
            await asyncio.sleep(interval)
    # Wait (briefly) for the sockets' loops to see their disconnect and clean up.
    deadline = time.monotonic() + 2.0
    while the_hub.users and time.monotonic() < deadline:  # noqa: ASYNC110 - bounded poll
        await asyncio.sleep(BATCH_INTERVAL)
    logger.info("drain: done in %.1f s", time.monotonic() - started)
