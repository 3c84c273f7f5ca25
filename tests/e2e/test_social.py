"""Friends, private chat and notifications, live, as new users would use them:
only HTTP and WebSocket clients against a real server process."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.e2e.client import Tab, register
from tests.e2e.server import base_env, chatapp_server

pytestmark = pytest.mark.e2e


class Api:
    def __init__(self, base: str, session: str) -> None:
        self.client = httpx.AsyncClient(base_url=base, cookies={"sessionid": session}, timeout=10)

    async def call(self, method: str, path: str, body: dict | None = None) -> httpx.Response:
        token = (await self.client.get("/api/csrf")).json()["csrf_token"]
        return await self.client.request(method, path, json=body, headers={"X-CSRFToken": token})


async def test_friends_private_chat_and_notifications_live(
    tmp_path: Path, e2e_database_url: str
) -> None:
    env = base_env(
        DATABASE_URL=e2e_database_url,
        SECRET_KEY="e2e-" + uuid.uuid4().hex * 2,
        CHATAPP_DATA_DIR=str(tmp_path / "data"),
    )
    with chatapp_server(env=env, log_path=tmp_path / "server.log", args=("--migrate",)) as base:
        sessions = {name: await register(base, name) for name in ("alice", "bob", "carol")}
        api = {name: Api(base, session) for name, session in sessions.items()}
        a_tab = await Tab.open(base, sessions["alice"])
        b_tab = await Tab.open(base, sessions["bob"])
        c_tab = await Tab.open(base, sessions["carol"])

        found = (await api["alice"].call("GET", "/api/users?q=bob")).json()["results"]
        assert [(u["username"], u["relation"]) for u in found] == [("bob", "none")]
        bob_id = found[0]["id"]

        started = time.monotonic()
        sent = await api["alice"].call("POST", "/api/friend-requests", {"to": bob_id})
        assert sent.status_code == 201
        pushed = await b_tab.recv_type("notification", timeout=2)
        assert time.monotonic() - started < 1.0  # well within a second (100 ms typical)
        assert pushed["notification"]["kind"] == "friend_request"
        assert pushed["notification"]["actor"]["username"] == "alice"
        assert pushed["unread"] == 1

        accepted = await api["bob"].call("POST", f"/api/friend-requests/{sent.json()['id']}/accept")
        assert accepted.json()["status"] == "accepted"
        a_frames = await a_tab.recv_types("room", "notification")
        a_room = a_frames["room"]["room"]
        b_room = (await b_tab.recv_type("room"))["room"]
        assert a_room["id"] == b_room["id"]
        assert (a_room["kind"], a_room["peer"]["username"], b_room["peer"]["username"]) == (
            "private",
            "bob",
            "alice",
        )
        assert a_frames["notification"]["notification"]["kind"] == "friend_accepted"
        room = a_room["id"]
        assert (await api["alice"].call("POST", "/api/rooms/private", {"user": bob_id})).json()[
            "id"
        ] == room

        # Alice writes while Bob is not looking: one private_message notification, updated.
        for i in range(2):
            await a_tab.send(
                {"type": "send", "room": room, "body": f"psst {i}", "client_id": f"p{i}"}
            )
            await a_tab.recv_type("ack")
        first = await b_tab.recv_type("notification")
        second = await b_tab.recv_type("notification")
        assert first["notification"]["id"] == second["notification"]["id"]
        assert second["notification"]["text"] == "alice: psst 1"
        rooms = (await api["bob"].call("GET", "/api/rooms")).json()["results"]
        assert [(r["kind"], r["unread"]) for r in rooms] == [("public", 0), ("private", 2)]

        # Bob opens the room: gap-free history, reads it, the notification clears.
        subscribed = await b_tab.subscribe(room, after_seq=0)
        assert subscribed["last_seq"] == 2
        got = [(await b_tab.recv_type("message"))["message"]["body"] for _ in range(2)]
        assert got == ["psst 0", "psst 1"]
        await b_tab.send({"type": "read", "room": room, "seq": 2})
        assert (await b_tab.recv_type("unread"))["count"] == 0

        # Carol can do nothing with that room.
        await c_tab.send({"type": "subscribe", "room": room, "after_seq": 0})
        assert (await c_tab.recv_type("error"))["code"] == "not_found"
        await c_tab.send({"type": "send", "room": room, "body": "hi", "client_id": "c1"})
        assert (await c_tab.recv_type("error"))["code"] == "not_found"
        assert (await api["carol"].call("GET", f"/api/rooms/{room}/messages")).status_code == 404
        carol_rooms = (await api["carol"].call("GET", "/api/rooms")).json()["results"]
        assert [r["kind"] for r in carol_rooms] == ["public"]

        # Alice unfriends: both tabs lose the room live; sends are refused.
        assert (await api["alice"].call("DELETE", f"/api/friends/{bob_id}")).status_code == 204
        assert (await a_tab.recv_type("room_removed"))["room"] == room
        assert (await b_tab.recv_type("room_removed"))["room"] == room
        await a_tab.send({"type": "send", "room": room, "body": "still?", "client_id": "p9"})
        assert (await a_tab.recv_type("error"))["code"] == "not_found"
        for client in api.values():
            await client.client.aclose()
