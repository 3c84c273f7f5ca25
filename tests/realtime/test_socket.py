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


async def test_a_draining_socket_answers_the_frame_in_hand_before_closing_with_1012() -> None:
    from chatapp import wire
    from chatapp.realtime import protocol
    from chatapp.realtime.hub import close_hub, hub
    from chatapp.realtime.socket import Identity, SocketApp

    release = asyncio.Event()
    started = asyncio.Event()

    async def slow_send(socket: Any, frame: wire.Send) -> None:
        started.set()
        await release.wait()  # as a send waits on PostgreSQL
        socket.push(wire.AckFrame(client_id=frame.client_id, message=None))

    class Endpoint:
        handlers = {wire.Send: slow_send}
        source: Any = None

        async def authenticate(self, scope: Any) -> Identity:
            user = wire.User(id=7, username="alice", avatar="")
            return Identity(user_id=7, session_key="k", user=user, hello='{"type":"hello"}')

        async def valid_sessions(self, sessions: list[Any], *, credentials: bool) -> set[Any]:
            return set(sessions)

    incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "websocket.close":
            await incoming.put({"type": "websocket.disconnect", "code": message["code"]})

    scope = _scope("k")
    task = asyncio.ensure_future(SocketApp(Endpoint())(scope, incoming.get, send))  # type: ignore[arg-type]
    await incoming.put({"type": "websocket.connect"})
    frame = {"type": "send", "room": 1, "body": "x", "client_id": "c1"}
    await incoming.put({"type": "websocket.receive", "text": json.dumps(frame)})
    await asyncio.wait_for(started.wait(), 2)
    (socket,) = hub().users[7]
    socket.close_soon(protocol.CLOSE_RESTARTING)  # what the drain does
    await asyncio.sleep(0.05)
    assert not any(m["type"] == "websocket.close" for m in sent)  # not while the send is in hand
    release.set()
    await asyncio.wait_for(task, 2)
    kinds = [json.loads(m["text"])["type"] if m.get("text") else m["type"] for m in sent]
    assert kinds == ["websocket.accept", "hello", "ack", "websocket.close"]
    assert sent[-1]["code"] == 1012
    assert 7 not in hub().users
    await close_hub()
