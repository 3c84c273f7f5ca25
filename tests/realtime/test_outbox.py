"""The consumer's outbound path: frames go straight to the server's send while it
takes them; once a send has to wait, later frames queue behind it in order, and
a socket whose queue overflows is closed with 4408."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from chatapp.realtime.consumer import ChatConsumer


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


def consumer_on(send: Any, limit: int = 1000) -> ChatConsumer:
    consumer = ChatConsumer()
    consumer.base_send = send
    consumer.open_outbox(limit)
    return consumer


async def test_frames_are_written_at_once_while_the_server_takes_them() -> None:
    send = ServerSend()
    consumer = consumer_on(send)
    for text in ("a", "b", "c"):
        consumer.push_text(text)
    assert send.texts() == ["a", "b", "c"]  # no await: no task in between
    assert consumer.writer is None


async def test_frames_queue_in_order_behind_a_send_that_has_to_wait() -> None:
    send = ServerSend()
    consumer = consumer_on(send)
    send.writable.clear()
    for text in ("a", "b", "c"):
        consumer.push_text(text)
    assert send.texts() == []
    assert consumer.writer is not None
    assert list(consumer.outbox) == ["b", "c"]
    send.writable.set()
    await asyncio.wait_for(consumer.writer, 2)
    assert send.texts() == ["a", "b", "c"]
    assert consumer.writer is None
    consumer.push_text("d")
    assert send.texts() == ["a", "b", "c", "d"]


async def test_a_socket_whose_queue_overflows_is_closed_with_4408() -> None:
    send = ServerSend()
    consumer = consumer_on(send, limit=2)
    send.writable.clear()
    for text in ("a", "b", "c", "d", "e"):
        consumer.push_text(text)
    assert consumer.closing
    send.writable.set()
    writer = consumer.writer
    assert writer is not None
    await asyncio.wait_for(asyncio.gather(writer, *consumer.tasks), 2)
    assert send.texts() == ["a", "b", "c"]
    assert {"type": "websocket.close", "code": 4408} in send.sent


async def test_a_cancelled_writer_sends_nothing_more() -> None:
    send = ServerSend()
    consumer = consumer_on(send)
    send.writable.clear()
    consumer.push_text("a")
    consumer.push_text("b")
    writer = consumer.writer
    assert writer is not None
    await asyncio.sleep(0)  # the writer now waits inside the server's send
    writer.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await writer
    assert consumer.writer is None
    assert not send.writable._waiters  # the cancellation reached the server's send
    send.writable.set()
    await asyncio.sleep(0.01)
    assert send.sent == []


async def test_a_send_that_fails_marks_the_socket_lost() -> None:
    async def gone(message: dict[str, Any]) -> None:
        raise OSError("client disconnected")

    consumer = consumer_on(gone)
    consumer.push_text("a")
    assert consumer.closing
    assert consumer.writer is None
    consumer.push_text("b")  # dropped, not raised
