"""uvicorn's sans-I/O WebSocket protocol, closing a failed connection cleanly.

When a client breaks the protocol (above all, a frame over the 64 KiB limit),
uvicorn sends the close frame (1009) and closes TCP at once, while the client
is often still sending the rest of its frame. The unread bytes make the kernel
answer with a reset, and a proxy in between (nginx) then fails with a broken
pipe before passing the close frame on: the client sees 1006 instead of 1009.

This protocol sends the close frame, then half-closes (FIN after it) and
keeps reading, discarding what arrives, until the client closes its side or
``LINGER`` seconds pass. Everything else is uvicorn's own code."""

from __future__ import annotations

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

# How long a failed connection waits for the client to close its side.
LINGER = 5.0


class LingeringWebSocketProtocol(WebSocketsSansIOProtocol):
    discarding = False

    def data_received(self, data: bytes) -> None:
        if self.discarding:
            return  # the rest of a refused frame, then the client's close
        super().data_received(data)

    def handle_parser_exception(self) -> None:
        assert self.conn.close_sent is not None  # noqa: S101 - the parser failed the connection
        close = self.conn.close_sent
        self.queue.put_nowait(
            {"type": "websocket.disconnect", "code": close.code, "reason": close.reason}
        )
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        self.discarding = True
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        if self.transport.can_write_eof():
            self.transport.write_eof()
        if self.close_timer is None:
            self.close_timer = self.loop.call_later(LINGER, self.transport.close)
