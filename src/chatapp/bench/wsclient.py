"""The socket client of the benchmarks and the end-to-end tests.

It opens ``/ws/`` the way a browser tab does (the session cookie and this
site's ``Origin``), reads the ``hello`` that must come first, and subscribes
to rooms, as PROTOCOL.md says. It knows the wire only, never the server's code.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect

from chatapp.bench import BenchError

RECV_TIMEOUT = 5.0  # s; the tests' default wait for one frame
# The bench's sockets: no pings of their own (the server pings), no compression
# (the server turns it off), no handshake limit (the bench bounds the whole open).
BENCH_SOCKET_OPTIONS: dict[str, Any] = {
    "open_timeout": None,
    "ping_interval": None,
    "close_timeout": 2,
    "compression": None,
}


class ProtocolError(BenchError):
    """The server answered outside PROTOCOL.md, or refused what was asked."""


def encode(frame: dict[str, Any]) -> str:
    return json.dumps(frame, separators=(",", ":"))


def ws_url(base: str) -> str:
    """``http://host:port`` -> ``ws://host:port/ws/``."""
    return base.replace("http", "ws", 1) + "/ws/"


# An API token, not a session key (chatapp.tokens.services.PREFIX).
TOKEN_PREFIX = "chat_"  # noqa: S105 - a prefix, not a secret


def credential_headers(credential: str) -> dict[str, str]:
    """A session key goes in the cookie; an API token (``chat_…``) in the
    Authorization header, as a program would send it."""
    if credential.startswith(TOKEN_PREFIX):
        return {"Authorization": f"Bearer {credential}"}
    return {"Cookie": f"sessionid={credential}"}


def handshake_headers(base: str, session: str | None, origin: str | None = None) -> dict[str, str]:
    """The credential (if any: a session key or an API token) and an Origin,
    this site's by default."""
    headers = {"Origin": origin or base}
    if session:
        headers.update(credential_headers(session))
    return headers


Address = tuple[int, int, int, Any]  # family, type, proto, sockaddr


async def resolve(base: str) -> Address:
    """Where ``base``'s server listens; resolved once, not per socket, so a storm
    of connects does not queue on the resolver's threads."""
    parts = urlsplit(base)
    found = await asyncio.get_running_loop().getaddrinfo(
        parts.hostname, parts.port, type=socket.SOCK_STREAM
    )
    family, kind, proto, _, address = found[0]
    return family, kind, proto, address


async def open_tcp(address: Address) -> socket.socket:
    """A connected TCP socket, for timing the TCP connect apart from the
    WebSocket handshake (then pass it to ``Tab.open`` as ``sock=``)."""
    family, kind, proto, sockaddr = address
    sock = socket.socket(family, kind, proto)
    sock.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(sock, sockaddr)
    except BaseException:
        sock.close()
        raise
    return sock


def lobby_of(hello: dict[str, Any]) -> int | None:
    """The id of the public room titled Lobby in a ``hello`` frame."""
    for room in hello.get("rooms", []):
        if room.get("kind") == "public" and room.get("title") == "Lobby":
            return int(room["id"])
    return None


class Tab:
    """One browser tab's socket."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.hello: dict[str, Any] = {}
        self.skipped: Counter[str] = Counter()  # frame types passed over while waiting

    @classmethod
    async def open(
        cls,
        base: str,
        session: str | None,
        *,
        origin: str | None = None,
        hello_timeout: float | None = RECV_TIMEOUT,
        **options: Any,
    ) -> Tab:
        """Open /ws/ with the session cookie and Origin, and read ``hello``.
        ``options`` go to ``websockets.asyncio.client.connect`` (``sock=``,
        ``open_timeout=``, ``max_queue=`` …)."""
        options.setdefault("max_size", None)
        ws = await connect(
            ws_url(base), additional_headers=handshake_headers(base, session, origin), **options
        )
        tab = cls(ws)
        try:
            tab.hello = await tab.recv(hello_timeout)
            if tab.hello.get("type") != "hello":
                raise ProtocolError(f"the first frame is {tab.hello.get('type')!r}, not hello")
        except BaseException:
            await ws.close()
            raise
        return tab

    @property
    def lobby(self) -> int | None:
        return lobby_of(self.hello)

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(encode(frame))

    async def recv(self, timeout: float | None = RECV_TIMEOUT) -> dict[str, Any]:
        frame = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        if not isinstance(frame, dict):
            raise ProtocolError(f"a frame that is not an object: {frame!r:.100}")
        return frame

    async def recv_type(self, kind: str, timeout: float | None = RECV_TIMEOUT) -> dict[str, Any]:
        while True:
            frame = await self.recv(timeout)
            if frame.get("type") == kind:
                return frame
            self.skipped[str(frame.get("type"))] += 1

    async def recv_types(
        self, *kinds: str, timeout: float | None = RECV_TIMEOUT
    ) -> dict[str, dict[str, Any]]:
        """The first frame of each of ``kinds``, whatever order they come in."""
        found: dict[str, dict[str, Any]] = {}
        while len(found) < len(kinds):
            frame = await self.recv(timeout)
            if frame.get("type") in kinds:
                found.setdefault(frame["type"], frame)
            else:
                self.skipped[str(frame.get("type"))] += 1
        return found

    async def subscribe(
        self, room: int, after_seq: int | None = None, timeout: float | None = RECV_TIMEOUT
    ) -> dict[str, Any]:
        """Subscribe and wait for ``subscribed`` to that room; an ``error`` frame
        meanwhile raises ProtocolError."""
        await self.send({"type": "subscribe", "room": room, "after_seq": after_seq})
        while True:
            frame = await self.recv(timeout)
            kind = frame.get("type")
            if kind == "subscribed" and frame.get("room") == room:
                return frame
            if kind == "error":
                raise ProtocolError(f"subscribe: {frame.get('code')} {frame.get('detail')}")
            self.skipped[str(kind)] += 1

    async def close(self) -> None:
        await self.ws.close()


async def open_lobby(base: str, session: str, **options: Any) -> tuple[Tab, int]:
    """A tab that has read ``hello`` and subscribed to the Lobby it names, and the
    Lobby's id; the caller bounds the wait. ``options`` as for ``Tab.open``."""
    tab = await Tab.open(base, session, hello_timeout=None, **options)
    return tab, await subscribe_lobby(tab)


async def subscribe_lobby(tab: Tab) -> int:
    """Subscribe ``tab`` to the Lobby its ``hello`` names and return its id; the
    tab is closed if that fails."""
    try:
        lobby = tab.lobby
        if lobby is None:
            raise ProtocolError("the hello frame names no public room 'Lobby'")
        await tab.subscribe(lobby, timeout=None)
    except BaseException:
        await tab.close()
        raise
    return lobby
