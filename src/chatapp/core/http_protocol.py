"""uvicorn's httptools protocol with the limits a server facing clients needs.

uvicorn drops an idle keep-alive connection, but not one that connects and
sends nothing, nor one that trickles a header line every few seconds, and it
sets no size limit on a request's headers (httptools keeps a header value
growing until its line ends; the WebSocket library then answers nothing to a
handshake with a line over 8 KiB). This protocol adds, as nginx does:

- a deadline for the request line and headers (``HTTP_HEADER_TIMEOUT``
  seconds from the connection or the first byte of the next request): past
  it the client gets 408 and the connection is closed;
- at most ``MAX_HEADER_LINE`` bytes per header line and ``MAX_HEADER_BYTES``
  for the request line and headers together: past them, 431 (414 for a long
  URL) and the connection is closed.

Everything after the headers (bodies, WebSocket frames) is uvicorn's own
code, unchanged. ``chatapp serve`` passes this class as uvicorn's ``http``."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# nginx's defaults (large_client_header_buffers 4 8k), and under the WebSocket
# library's 8 KiB line limit so a handshake is never left without an answer.
MAX_HEADER_LINE = 8190
MAX_HEADER_BYTES = 32 * 1024
MAX_URL = 8190


class _Refused(Exception):
    """Stops the parser; the answer has already been written."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_deadline: asyncio.TimerHandle | None = None
        self.awaiting_headers = True
        self.header_bytes = 0  # parsed: request line and header lines
        self.raw_bytes = 0  # received while the headers are incomplete
        self.refused = False

    # -- the deadline -------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_deadline()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.awaiting_headers = True
        self.header_bytes = self.raw_bytes = 0
        self._arm_deadline()

    def on_headers_complete(self) -> None:
        self.awaiting_headers = False
        self._disarm_deadline()
        super().on_headers_complete()

    def _arm_deadline(self) -> None:
        if self.header_deadline is None:
            self.header_deadline = self.loop.call_later(header_timeout(), self._headers_too_slow)

    def _disarm_deadline(self) -> None:
        if self.header_deadline is not None:
            self.header_deadline.cancel()
            self.header_deadline = None

    def _headers_too_slow(self) -> None:
        self.header_deadline = None
        if self.awaiting_headers and not self.transport.is_closing():
            self._refuse(408, "Request Timeout")

    # -- the sizes ----------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        if self.refused:
            return
        super().data_received(data)
        if self.awaiting_headers and not self.refused:
            # A line that never ends grows inside the parser, unseen by the
            # callbacks: bound what arrives before the headers end, too.
            self.raw_bytes += len(data)
            if self.raw_bytes > 2 * MAX_HEADER_BYTES:
                self._refuse(431, "Request Header Fields Too Large")

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > MAX_URL:
            self._refuse(414, "URI Too Long")
            raise _Refused

    def on_header(self, name: bytes, value: bytes) -> None:
        line = len(name) + len(value) + 2
        self.header_bytes += line + 2
        if line > MAX_HEADER_LINE or self.header_bytes + len(self.url) > MAX_HEADER_BYTES:
            self._refuse(431, "Request Header Fields Too Large")
            raise _Refused
        super().on_header(name, value)

    def send_400_response(self, msg: str) -> None:
        if not self.refused:  # our own refusal surfaces as a parser error
            super().send_400_response(msg)

    def _refuse(self, status: int, reason: str) -> None:
        self.refused = True
        self._disarm_deadline()
        body = reason.encode()
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s"
            % (status, reason.encode(), len(body), body)
        )
        self.transport.close()


_timeout: float | None = None


def header_timeout() -> float:
    """HTTP_HEADER_TIMEOUT, read once per worker (settings are set up by then)."""
    global _timeout
    if _timeout is None:
        from django.conf import settings

        _timeout = float(settings.HTTP_HEADER_TIMEOUT)
    return _timeout
