"""The outbound path of a socket (``realtime.outbox``): frames go straight to the
server's send while it takes them; once a send has to wait, later frames queue
behind it in order, and a queue that overflows calls ``on_overflow`` once."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from chatapp.realtime.outbox import Outbox


class ServerSend:
    """A server's ASGI send, like uvicorn's: it waits only while the transport is full."""

    def __init__(self) -> None:
        self.writable = asyncio.Event()
        self.writable.set()
        self.sent: list[dict[str, Any]] = []

    async def __call__(self, message: dict[str, Any]) -> None:
        await self.writable.wait()
        self.sent.append(message)

    def texts(self) -> list[str]:
        return [m["text"] for m in self.sent if m["type"] == "websocket.send"]


def outbox_on(send: Any, limit: int = 1000) -> tuple[Outbox, list[int]]:
    overflows: list[int] = []
    return Outbox(send, limit, lambda: overflows.append(1)), overflows


async def test_frames_are_written_at_once_while_the_server_takes_them() -> None:
    send = ServerSend()
    outbox, _ = outbox_on(send)
    for text in ("a", "b", "c"):
        outbox.push(text)
    assert send.texts() == ["a", "b", "c"]  # no await: no task in between
    assert outbox.writer is None
    assert outbox.queue is None  # nothing allocated for a client that keeps up


async def test_frames_queue_in_order_behind_a_send_that_has_to_wait() -> None:
    send = ServerSend()
    outbox, _ = outbox_on(send)
    send.writable.clear()
    for text in ("a", "b", "c"):
        outbox.push(text)
    assert send.texts() == []
    assert outbox.writer is not None
    assert list(outbox.queue or ()) == ["b", "c"]
    send.writable.set()
    await asyncio.wait_for(outbox.writer, 2)
    assert send.texts() == ["a", "b", "c"]
    assert outbox.writer is None
    outbox.push("d")
    assert send.texts() == ["a", "b", "c", "d"]


async def test_an_overflowing_queue_calls_on_overflow_once_and_drops_the_rest() -> None:
    send = ServerSend()
    outbox, overflows = outbox_on(send, limit=2)
    send.writable.clear()
    for text in ("a", "b", "c", "d", "e"):
        outbox.push(text)
    assert overflows == [1]
    assert outbox.closed
    send.writable.set()
    await asyncio.sleep(0.01)
    assert send.texts() == []  # the send in progress was abandoned with the rest
    assert outbox.writer is None


async def test_push_waiting_waits_for_room_instead_of_overflowing() -> None:
    send = ServerSend()
    outbox, overflows = outbox_on(send, limit=2)
    send.writable.clear()
    for text in ("a", "b", "c"):
        outbox.push(text)  # "a" in the send, "b" and "c" queued: full
    waiting = asyncio.ensure_future(outbox.push_waiting("d"))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    send.writable.set()
    await asyncio.wait_for(waiting, 2)
    if outbox.writer is not None:
        await asyncio.wait_for(outbox.writer, 2)
    assert send.texts() == ["a", "b", "c", "d"]
    assert overflows == []


async def test_a_cancelled_writer_sends_nothing_more() -> None:
    send = ServerSend()
    outbox, _ = outbox_on(send)
    send.writable.clear()
    outbox.push("a")
    outbox.push("b")
    writer = outbox.writer
    assert writer is not None
    await asyncio.sleep(0)  # the writer now waits inside the server's send
    outbox.close()
    with contextlib.suppress(asyncio.CancelledError):
        await writer
    assert outbox.writer is None
    assert not send.writable._waiters  # the cancellation reached the server's send
    send.writable.set()
    await asyncio.sleep(0.01)
    assert send.sent == []


async def test_a_send_that_fails_marks_the_outbox_closed() -> None:
    async def gone(message: dict[str, Any]) -> None:
        raise OSError("client disconnected")

    outbox, overflows = outbox_on(gone)
    outbox.push("a")
    assert outbox.closed
    assert outbox.writer is None
    outbox.push("b")  # dropped, not raised
    assert overflows == []
