"""Per-event-loop singletons.

Worker-process state (the room hub, rate limiter clients, the session
watcher) belongs to the event loop it runs on: one per uvicorn worker, and a
fresh one per test, whose loops come and go.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerLoop(Generic[T]):
    def __init__(self, factory: Callable[[], T]) -> None:
        self.factory = factory
        self.items: dict[asyncio.AbstractEventLoop, T] = {}

    def get(self) -> T:
        loop = asyncio.get_running_loop()
        item = self.items.get(loop)
        if item is None:
            item = self.items[loop] = self.factory()
        return item

    def pop(self) -> T | None:
        return self.items.pop(asyncio.get_running_loop(), None)
