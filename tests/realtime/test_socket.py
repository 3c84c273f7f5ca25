"""The transport's own promises (``realtime.socket``): a socket that dies, for
any reason, leaves nothing behind; a dependency that is down never kills one."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.realtime.conftest import ORIGIN

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def _scope(session_key: str) -> dict[str, Any]:
    return {
        "type": "websocket",
        "path": "/ws/",
        "raw_path": b"/ws/",
        "query_string": b"",
        "headers": [(b"origin", ORIGIN), (b"cookie", f"sessionid={session_key}".encode())],
        "subprotocols": [],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


@pytest.mark.parametrize("how", ["receive raises", "server send raises", "task cancelled"])
async def test_a_socket_that_crashes_leaves_nothing_behind(
    connect, session_for, lobby_id, how
) -> None:
    from chatapp.accounts.models import User
    from chatapp.realtime.hub import hub
    from config.asgi import application

    key = await session_for("alice")
    watcher_friend = await connect(await session_for("bob"))
    await watcher_friend.recv()
    await watcher_friend.send({"type": "subscribe", "room": lobby_id, "after_seq": None})
    await watcher_friend.recv_type("subscribed")

    incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    sent: list[dict[str, Any]] = []
    subscribed = asyncio.Event()
    crash = asyncio.Event()

    async def receive() -> dict[str, Any]:
        message = await incoming.get()
        if message["type"] == "crash":
            raise RuntimeError("the server lost the connection")
        return message

    async def send(message: dict[str, Any]) -> None:
        if crash.is_set() and how == "server send raises":
            raise OSError("broken pipe")
        sent.append(message)
        if message.get("text") and json.loads(message["text"])["type"] == "subscribed":
            subscribed.set()

    task = asyncio.ensure_future(application(_scope(key), receive, send))
    await incoming.put({"type": "websocket.connect"})
    frame = {"type": "subscribe", "room": lobby_id, "after_seq": None}
    await incoming.put({"type": "websocket.receive", "text": json.dumps(frame)})
    await asyncio.wait_for(subscribed.wait(), 3)
    the_hub = hub()
    alice_id = (await User.objects.aget(username="alice")).pk
    assert alice_id in the_hub.presence.local[lobby_id]
    assert await the_hub.online(lobby_id) == 2
    assert (await watcher_friend.recv_type("presence", timeout=3))["online"] == 2

    crash.set()
    if how == "receive raises":
        await incoming.put({"type": "crash"})
        with pytest.raises(RuntimeError):
            await asyncio.wait_for(task, 3)
    elif how == "server send raises":
        # A frame to alice fails; then the server reports the disconnect.
        await incoming.put({"type": "websocket.receive", "text": '{"type":"ping"}'})
        await incoming.put({"type": "websocket.disconnect", "code": 1006})
        await asyncio.wait_for(task, 3)
    else:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 3)

    assert alice_id not in the_hub.users
    assert alice_id not in the_hub.presence.local.get(lobby_id, {})
    assert all(s.user_id != alice_id for s in the_hub.rooms.get(lobby_id, ()))
    presence = await watcher_friend.recv_type("presence", timeout=3)
    assert presence["online"] == 1  # bob is no longer shown a ghost
