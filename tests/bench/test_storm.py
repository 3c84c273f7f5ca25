"""The storm's socket against a tiny local WebSocket server: a refused connect is
retried until it gets in, an answer that says no is not, and retries are bounded."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from chatapp.bench.storm import Storm, StormConfig
from chatapp.bench.wsclient import ProtocolError, Tab, resolve

HELLO = {
    "type": "hello",
    "user": {"id": 1, "username": "u", "avatar": "/a.svg"},
    "rooms": [{"id": 7, "kind": "public", "title": "Lobby"}],
    "notifications_unread": 0,
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def lobby_server(ws: ServerConnection) -> None:
    """hello, then subscribed to what is asked; the headers must be a browser's."""
    headers = ws.request.headers if ws.request else {}
    assert headers.get("Cookie") == "sessionid=cookie"
    assert headers.get("Origin", "").startswith("http://127.0.0.1:")
    await ws.send(json.dumps(HELLO))
    async for raw in ws:
        frame = json.loads(raw)
        if frame["type"] == "subscribe":
            answer = {"type": "subscribed", "room": frame["room"], "last_seq": 0, "online": 1}
            await ws.send(json.dumps(answer))


async def _storm(port: int, retries: int = 30) -> Storm:
    base = f"http://127.0.0.1:{port}"
    config = StormConfig(
        base=base, cookies=["cookie"], retries=retries, backoff_max=0.1, timeout=20
    )
    return Storm(config, await resolve(base))


async def test_a_refused_connect_is_retried_until_the_server_listens() -> None:
    port = _free_port()
    storm = await _storm(port)
    connecting = asyncio.create_task(storm.connect("cookie"))
    await asyncio.sleep(0.3)  # nothing listens yet: connects are refused
    async with serve(lobby_server, "127.0.0.1", port):
        await asyncio.wait_for(connecting, 10)
        assert storm.refusals["connection refused"] >= 1
        assert not storm.failures
        assert storm.retried == 1
        assert len(storm.tabs) == 1
        # Its latency runs from its first attempt, so it includes the refusals.
        assert storm.latency[0] >= 0.25
        assert storm.first_attempt <= storm.last_subscribed - storm.latency[0] + 1e-6
        await storm.close()


async def test_an_answer_that_says_no_fails_at_once() -> None:
    async def refuse(ws: ServerConnection) -> None:
        await ws.close(4401, "not logged in")

    port = _free_port()
    async with serve(refuse, "127.0.0.1", port):
        storm = await _storm(port)
        await asyncio.wait_for(storm.connect("cookie"), 10)
    assert sum(storm.failures.values()) == 1
    assert not storm.refusals
    assert not storm.tabs


async def test_a_busy_server_is_retried_at_most_retries_times() -> None:
    def busy(connection: ServerConnection, request: Request) -> Response:
        return connection.respond(503, "busy\n")

    port = _free_port()
    async with serve(lobby_server, "127.0.0.1", port, process_request=busy):
        storm = await _storm(port, retries=2)
        await asyncio.wait_for(storm.connect("cookie"), 10)
    assert storm.refusals == {"HTTP 503": 3}
    assert storm.failures == {"not taken after 3 attempts (HTTP 503)": 1}


Handler = Callable[[ServerConnection], Awaitable[None]]


async def _tab_against(handler: Handler, action: Callable[[str], Awaitable[Any]]) -> Any:
    port = _free_port()
    async with serve(handler, "127.0.0.1", port):
        return await action(f"http://127.0.0.1:{port}")


async def test_tab_reads_hello_and_names_the_lobby() -> None:
    async def opened(base: str) -> tuple[dict[str, Any], int | None, dict[str, Any]]:
        tab = await Tab.open(base, "cookie")
        subscribed = await tab.subscribe(7)
        await tab.close()
        return tab.hello, tab.lobby, subscribed

    hello, lobby, subscribed = await _tab_against(lobby_server, opened)
    assert hello == HELLO
    assert lobby == 7
    assert subscribed["room"] == 7


async def test_tab_refuses_a_first_frame_that_is_not_hello_and_an_error_on_subscribe() -> None:
    async def no_hello(ws: ServerConnection) -> None:
        await ws.send(json.dumps({"type": "pong"}))
        await ws.wait_closed()

    async def forbidden(ws: ServerConnection) -> None:
        await ws.send(json.dumps(HELLO))
        await ws.recv()
        error = {"type": "error", "code": "forbidden", "detail": "no", "ref": None}
        await ws.send(json.dumps(error))
        await ws.wait_closed()

    with pytest.raises(ProtocolError, match="not hello"):
        await _tab_against(no_hello, lambda base: Tab.open(base, "cookie"))

    async def subscribe(base: str) -> None:
        tab = await Tab.open(base, "cookie")
        try:
            await tab.subscribe(7)
        finally:
            await tab.close()

    with pytest.raises(ProtocolError, match="forbidden"):
        await _tab_against(forbidden, subscribe)
