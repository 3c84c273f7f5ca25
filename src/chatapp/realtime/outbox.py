"""The bounded queue of frames to one client.

A frame is written straight to the server's ``send`` while the transport takes
it, with no task and no future: uvicorn's send only suspends when the socket's
buffer is full. Only then does a writer task finish that send and drain the
frames queued behind it, in order. A client that stops reading fills the queue
and ``on_overflow`` is called once, so one slow client never stalls a room.

Measured (docs/benchmarks.md): a future per frame fed the garbage collector
enough to pause a room for 150-265 ms; this path creates none while the client
keeps up.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any

from asgiref.typing import ASGISendCallable


class _Resumed:
    """Awaits the rest of a coroutine that was started by hand and suspended on
    ``waiting``: the send that could not finish at once, handed to a task."""

    __slots__ = ("coro", "waiting")

    def __init__(self, coro: Coroutine[Any, Any, Any], waiting: Any) -> None:
        self.coro = coro
        self.waiting = waiting

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, waiting = self.coro, self.waiting
        while True:
            try:
                value = yield waiting
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # cancellation and the like: pass it on
                try:
                    waiting = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    waiting = coro.send(value)
                except StopIteration as stop:
                    return stop.value


class Outbox:
    """Frames to one client, in order, at most ``limit`` waiting."""

    __slots__ = ("closed", "limit", "on_overflow", "queue", "send", "space_waiter", "writer")

    def __init__(self, send: ASGISendCallable, limit: int, on_overflow: Callable[[], None]) -> None:
        self.send = send
        self.limit = limit
        self.on_overflow = on_overflow
        self.queue: deque[str] | None = None  # made when a send first has to wait
        self.writer: asyncio.Future[None] | None = None  # set while frames wait
        self.space_waiter: asyncio.Future[None] | None = None
        self.closed = False

    def __len__(self) -> int:
        return len(self.queue) if self.queue else 0

    def push(self, text: str) -> None:
        """Write the frame now, or queue it behind a send that is waiting."""
        if self.closed:
            return
        if self.writer is None:
            self._write_now(text)
            return
        queue = self.queue
        assert queue is not None  # noqa: S101 - made before the writer
        if len(queue) >= self.limit:
            self.close()
            self.on_overflow()
            return
        queue.append(text)

    async def push_waiting(self, text: str) -> None:
        """Queue a frame, waiting for room rather than overflowing (catch-up:
        the frames come from the database at the reader's pace)."""
        while len(self) >= self.limit and not self.closed:
            self.space_waiter = asyncio.get_running_loop().create_future()
            await self.space_waiter
        self.space_waiter = None
        self.push(text)

    def close(self) -> None:
        """Write nothing more; a send in progress is abandoned."""
        self.closed = True
        if self.queue:
            self.queue.clear()
        if self.writer is not None:
            self.writer.cancel()
            self.writer = None
        self._wake()

    def _write_now(self, text: str) -> None:
        send = self.send({"type": "websocket.send", "text": text, "bytes": None})
        if not isinstance(send, Coroutine):  # a server whose send is a future
            self._start_writer(send)
            return
        try:
            waiting = send.send(None)
        except StopIteration:
            return
        except Exception:
            self._lost()
            return
        self._start_writer(_Resumed(send, waiting))

    def _start_writer(self, pending: Awaitable[Any]) -> None:
        if self.queue is None:
            self.queue = deque()
        self.writer = asyncio.ensure_future(self._drain(pending))

    async def _drain(self, pending: Awaitable[Any]) -> None:
        send = self.send
        queue = self.queue
        assert queue is not None  # noqa: S101 - made before the writer
        try:
            await pending
            while queue:
                await send({"type": "websocket.send", "text": queue.popleft(), "bytes": None})
                self._wake()
        except asyncio.CancelledError:
            pass
        except Exception:
            self._lost()
        finally:
            self.writer = None

    def _lost(self) -> None:
        """The server refused a frame: the client is gone; its disconnect follows."""
        self.closed = True
        if self.queue:
            self.queue.clear()
        self._wake()

    def _wake(self) -> None:
        waiter = self.space_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
