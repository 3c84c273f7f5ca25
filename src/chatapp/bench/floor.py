"""The floor of the fan-out benchmark: a bare ASGI broadcast server.

No framework, no database, no channel layer, no authentication: a plain ASGI
app under uvicorn with the WebSocket flags of ``chatapp serve`` (64 KiB frames,
per-message deflate off, the same pings and backlog). It speaks just enough of
PROTOCOL.md for the benchmark client: a ``hello`` naming one public room (the
Lobby), ``subscribe`` answered by ``subscribed``, and ``send`` numbered with the
next ``seq``, encoded once and written to every subscribed socket in a plain
loop, then acknowledged. Whatever our server does on top of that is overhead.

    python -m chatapp.bench.floor --port 8765
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from chatapp.core.serving import LISTEN_BACKLOG, WS_MAX_SIZE

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

LOBBY_ID = 1
AVATAR = "/static/chatapp/avatar-default.svg"


def _encode(frame: dict[str, Any]) -> str:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


class FloorApp:
    """One room; every subscribed socket gets every message."""

    def __init__(self) -> None:
        self.subscribed: dict[int, Send] = {}
        self.next_socket = 0
        self.seq = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "websocket":
            await self._websocket(scope, receive, send)
        elif kind == "http":
            await self._http(scope, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, send: Send) -> None:
        found = scope["path"] == "/healthz"
        body = b'{"status":"ok"}' if found else b'{"error":{"code":"not_found"}}'
        await send(
            {
                "type": "http.response.start",
                "status": 200 if found else 404,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (await receive())["type"] != "websocket.connect":
            return
        if scope["path"] != "/ws/":
            await send({"type": "websocket.close", "code": 4404})
            return
        await send({"type": "websocket.accept"})
        self.next_socket += 1
        socket_id = self.next_socket
        user = {"id": socket_id, "username": f"floor{socket_id}", "avatar": AVATAR}
        await self._send_text(send, self._hello(user))
        try:
            while True:
                message = await receive()
                if message["type"] != "websocket.receive":
                    return  # websocket.disconnect
                await self._frame(socket_id, user, send, message.get("text"))
        finally:
            self.subscribed.pop(socket_id, None)

    def _hello(self, user: dict[str, Any]) -> str:
        room = {
            "id": LOBBY_ID,
            "kind": "public",
            "title": "Lobby",
            "peer": None,
            "unread": 0,
            "last_seq": self.seq,
        }
        return _encode({"type": "hello", "user": user, "rooms": [room], "notifications_unread": 0})

    async def _frame(self, socket_id: int, user: dict[str, Any], send: Send, text: Any) -> None:
        try:
            frame = json.loads(text) if isinstance(text, str) else None
        except ValueError:
            frame = None
        kind = frame.get("type") if isinstance(frame, dict) else None
        if frame is None or kind not in {"subscribe", "send", "ping"}:
            error = {"type": "error", "code": "invalid", "detail": "Not here.", "ref": None}
            await self._send_text(send, _encode(error))
        elif kind == "ping":
            await self._send_text(send, '{"type":"pong"}')
        elif kind == "subscribe":
            self.subscribed[socket_id] = send
            answer = {
                "type": "subscribed",
                "room": LOBBY_ID,
                "last_seq": self.seq,
                "online": len(self.subscribed),
            }
            await self._send_text(send, _encode(answer))
        else:
            await self._broadcast(user, send, frame)

    async def _broadcast(self, user: dict[str, Any], send: Send, frame: dict[str, Any]) -> None:
        self.seq += 1
        message = {
            "id": self.seq,
            "room": LOBBY_ID,
            "seq": self.seq,
            "author": user,
            "body": str(frame.get("body", "")).strip(),
            "created_at": datetime.now(UTC).isoformat(),
            "client_id": frame.get("client_id"),
        }
        text = _encode({"type": "message", "message": message})
        for target in tuple(self.subscribed.values()):
            await self._send_text(target, text)
        await self._send_text(
            send, _encode({"type": "ack", "client_id": frame.get("client_id"), "message": message})
        )

    @staticmethod
    async def _send_text(send: Send, text: str) -> None:
        # A socket that went away just misses the frame.
        with contextlib.suppress(Exception):
            await send({"type": "websocket.send", "text": text})


app = FloorApp()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m chatapp.bench.floor",
        description="A bare ASGI broadcast server: the floor of `chatapp bench fanout`.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)

    import uvicorn

    # The WebSocket flags of `chatapp serve` (see chatapp.cli.serve).
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        lifespan="on",
        ws_max_size=WS_MAX_SIZE,
        ws_per_message_deflate=False,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        backlog=LISTEN_BACKLOG,
        log_level=args.log_level,
        server_header=False,
    )


if __name__ == "__main__":
    main()
