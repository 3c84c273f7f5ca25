from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from tests.realtime.communicator import WebsocketCommunicator

HOST = b"127.0.0.1:8000"
ORIGIN = b"http://" + HOST


class Socket:
    """A test client of /ws/ that remembers what it was sent."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.comm = communicator

    async def send(self, frame: dict[str, Any] | str) -> None:
        if isinstance(frame, str):
            await self.comm.send_to(text_data=frame)
        else:
            await self.comm.send_json_to(frame)

    async def recv(self, timeout: float = 3) -> dict[str, Any]:
        return await self.comm.receive_json_from(timeout=timeout)

    async def recv_type(self, kind: str, timeout: float = 3) -> dict[str, Any]:
        """The next frame of ``kind``, passing over unasked frames of other kinds."""
        passable = {"presence", "message", "typing", "unread"} - {kind}
        while True:
            frame = await self.recv(timeout)
            if frame["type"] == kind:
                return frame
            assert frame["type"] in passable, frame

    async def nothing(self, timeout: float = 0.3) -> bool:
        return await self.comm.receive_nothing(timeout=timeout)

    async def close(self) -> None:
        await self.comm.disconnect()


@pytest.fixture
def session_for(transactional_db: None, password: str) -> Callable[[str], Awaitable[str]]:
    """Create a user and log it in; returns the session key."""
    from chatapp.accounts.models import User

    def make(username: str) -> str:
        user = User.objects.create_user(
            username=username, email=f"{username}@example.com", password=password
        )
        client = Client()
        client.force_login(user)
        return client.cookies["sessionid"].value

    return database_sync_to_async(make)


@pytest.fixture
async def connect() -> AsyncIterator[Callable[..., Awaitable[Socket]]]:
    from chatapp.chat import sql
    from chatapp.realtime.hub import close_hub
    from config.asgi import application

    opened: list[Socket] = []
    await _forget_redis_state()

    async def open_socket(
        session_key: str | None,
        origin: bytes | None = ORIGIN,
        extra: list[tuple[bytes, bytes]] = (),  # type: ignore[assignment]
        query: bytes = b"",
    ) -> Socket:
        headers = [(b"host", HOST), *extra]
        if origin is not None:
            headers.append((b"origin", origin))
        if session_key is not None:
            headers.append((b"cookie", f"sessionid={session_key}".encode()))
        comm = WebsocketCommunicator(application, "/ws/", headers=headers, query=query)
        socket = Socket(comm)
        socket.connected, socket.subprotocol = await comm.connect()  # type: ignore[attr-defined]
        opened.append(socket)
        return socket

    yield open_socket
    for socket in opened:
        with contextlib.suppress(Exception):  # already closed by the test
            await socket.close()
    await close_hub()
    await sql.close_pool()
    # A channel layer holds locks of the event loop it ran on; each test has its own.
    from channels.layers import channel_layers

    for layer in channel_layers.backends.values():
        close_pools = getattr(layer, "close_pools", None)
        if close_pools is not None:
            await close_pools()
    channel_layers.backends.clear()


async def _forget_redis_state() -> None:
    """Rate buckets and presence of earlier runs (user ids repeat across test databases)."""
    url = os.environ.get("REDIS_URL")
    if not url:
        return
    import redis.asyncio as redis

    client = redis.Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match="chatapp:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
async def lobby_id(transactional_db: None) -> int:
    from chatapp.chat.models import Room

    room = await Room.objects.aget(kind="public", title="Lobby")
    return room.pk
