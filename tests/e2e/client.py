"""Black-box clients of a running server: httpx for the API, websockets for /ws/."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

PASSWORD = "correct horse battery staple"


async def register(base: str, username: str) -> str:
    """Register a user over HTTP; returns its session cookie value."""
    async with httpx.AsyncClient(base_url=base, timeout=20) as client:
        token = (await client.get("/api/csrf")).json()["csrf_token"]
        response = await client.post(
            "/api/auth/register",
            json={"username": username, "email": f"{username}@example.com", "password": PASSWORD},
            headers={"X-CSRFToken": token},
        )
        assert response.status_code == 201, response.text
        return client.cookies["sessionid"]


class Tab:
    """One browser tab's socket."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.hello: dict[str, Any] = {}

    @classmethod
    async def open(cls, base: str, session: str, **kwargs: Any) -> Tab:
        ws = await connect(
            base.replace("http", "ws", 1) + "/ws/",
            additional_headers={"Cookie": f"sessionid={session}", "Origin": base},
            max_size=None,
            **kwargs,
        )
        tab = cls(ws)
        tab.hello = await tab.recv()
        assert tab.hello["type"] == "hello", tab.hello
        return tab

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(frame))

    async def recv(self, timeout: float = 5) -> dict[str, Any]:
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def recv_type(self, kind: str, timeout: float = 5) -> dict[str, Any]:
        while True:
            frame = await self.recv(timeout)
            if frame["type"] == kind:
                return frame

    async def recv_types(self, *kinds: str, timeout: float = 5) -> dict[str, dict[str, Any]]:
        """The first frame of each of ``kinds``, whatever order they come in."""
        found: dict[str, dict[str, Any]] = {}
        while len(found) < len(kinds):
            frame = await self.recv(timeout)
            if frame["type"] in kinds:
                found.setdefault(frame["type"], frame)
        return found

    async def subscribe(self, room: int, after_seq: int | None = None) -> dict[str, Any]:
        await self.send({"type": "subscribe", "room": room, "after_seq": after_seq})
        return await self.recv_type("subscribed")

    async def close(self) -> None:
        await self.ws.close()
