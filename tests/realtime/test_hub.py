"""The hub on its own (``realtime.hub``), with a channel layer that fails on
demand and a room source in memory: what it does when the layer goes away and
comes back, without a socket ever seeing an error."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from django.test import override_settings

from chatapp.realtime import hub as hub_module
from chatapp.realtime.hub import Hub, Order


class FlakyLayer:
    """A channel layer whose calls fail while ``down``; it forgets its groups
    when it comes back, as Redis does on a restart."""

    def __init__(self) -> None:
        self.down = False
        self.groups: dict[str, set[str]] = {}
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def _check(self) -> None:
        if self.down:
            raise ConnectionError("Redis is away")

    def restart(self) -> None:
        self.down = False
        self.groups.clear()

    async def new_channel(self) -> str:
        self._check()
        return "specific.worker!one"

    async def group_add(self, group: str, channel: str) -> None:
        self._check()
        self.groups.setdefault(group, set()).add(channel)

    async def group_discard(self, group: str, channel: str) -> None:
        self._check()
        self.groups.get(group, set()).discard(channel)

    async def group_send(self, group: str, event: dict[str, Any]) -> None:
        self._check()
        self.sent.append((group, event))

    async def receive(self, channel: str) -> dict[str, Any]:
        self._check()
        return await self.inbox.get()


class Source:
    """Rooms in memory: what PostgreSQL would answer (each message one revision)."""

    def __init__(self) -> None:
        self.messages: dict[int, list[int]] = {}

    async def last_revs(self, room_ids: list[int]) -> dict[int, int]:
        return {room: max(self.messages.get(room, [0])) for room in room_ids}

    async def chain_after(
        self, room_id: int, after: int, limit: int
    ) -> tuple[list[tuple[int, int, str]], bool]:
        revs = [r for r in self.messages.get(room_id, []) if r > after]
        page = revs[:limit]
        return [(r - 1, r, f"message {r}") for r in page], len(revs) <= limit


class Recorder:
    def __init__(self, user_id: int) -> None:
        self.user_id = user_id
        self.frames: list[tuple[int, int | None, str]] = []  # messages only: (room, rev, text)
        self.user_frames: list[str] = []

    def room_frame(self, room_id: int, order: Order | None, text: str) -> None:
        if order is not None:  # presence announcements are not the point here
            self.frames.append((room_id, order[1], text))

    def user_frame(self, text: str) -> None:
        self.user_frames.append(text)

    def close_soon(self, code: int) -> None:
        pass


@pytest.fixture
def source(monkeypatch: pytest.MonkeyPatch) -> Source:
    found = Source()
    monkeypatch.setattr(hub_module, "_source", found)
    monkeypatch.setattr(hub_module, "LAYER_CHECK_INTERVAL", 0.05)
    return found


@override_settings(REDIS_URL="")
async def test_publishing_while_the_layer_is_down_never_raises_and_reaches_local_sockets(
    source: Source,
) -> None:
    layer = FlakyLayer()
    the_hub = Hub(layer)  # type: ignore[arg-type]
    socket = Recorder(user_id=1)
    await the_hub.join(7, socket)
    await the_hub.add_user_socket(socket)
    layer.down = True
    await the_hub.publish_room(7, "message 1", order=(0, 1, 0))
    await the_hub.publish_user(1, "notification")
    assert socket.frames == [(7, 1, "message 1")]
    assert socket.user_frames == ["notification"]
    assert not the_hub.layer_up
    await the_hub.close()


@override_settings(REDIS_URL="")
async def test_while_down_rooms_are_caught_up_from_the_source_and_groups_rejoined_after(
    source: Source,
) -> None:
    layer = FlakyLayer()
    the_hub = Hub(layer)  # type: ignore[arg-type]
    socket = Recorder(user_id=1)
    await the_hub.add_user_socket(socket)
    await the_hub.join(7, socket)
    the_hub.note_rev(7, 0)
    assert layer.groups == {"users": {"specific.worker!one"}, "room.7": {"specific.worker!one"}}

    layer.down = True
    await the_hub.publish_room(7, "message 1", order=(0, 1, 0))  # the layer call fails here
    source.messages[7] = [1, 2, 3]  # 2 and 3 were published by another worker meanwhile
    await asyncio.sleep(0.3)  # a few checks of the watch loop
    assert [seq for _, seq, _ in socket.frames] == [1, 2, 3]  # caught up from the source
    assert not the_hub.layer_up

    layer.restart()  # back, but empty: every group forgotten
    await asyncio.sleep(0.3)
    assert the_hub.layer_up
    assert layer.groups == {"users": {"specific.worker!one"}, "room.7": {"specific.worker!one"}}
    source.messages[7].append(4)
    await the_hub.catch_up_rooms()
    assert [seq for _, seq, _ in socket.frames] == [1, 2, 3, 4]
    await the_hub.close()


@override_settings(REDIS_URL="")
async def test_events_from_other_workers_reach_local_sockets_and_own_ones_come_once(
    source: Source,
) -> None:
    layer = FlakyLayer()
    the_hub = Hub(layer)  # type: ignore[arg-type]
    socket = Recorder(user_id=1)
    await the_hub.join(7, socket)
    await the_hub.publish_room(7, "mine", order=(0, 1, 0))
    own_event = layer.sent[-1][1]
    await layer.inbox.put(own_event)  # our own event, back through the layer
    other = {
        "type": "room.frame",
        "room": 7,
        "order": [1, 2, 1],
        "text": "theirs",
        "origin": "other",
    }
    await layer.inbox.put(other)
    await asyncio.sleep(0.1)
    assert socket.frames == [(7, 1, "mine"), (7, 2, "theirs")]
    await the_hub.close()


@override_settings(REDIS_URL="", PRESENCE_DEBOUNCE=0.05)
async def test_the_last_socket_of_a_room_leaving_forgets_the_room(source: Source) -> None:
    layer = FlakyLayer()
    the_hub = Hub(layer)  # type: ignore[arg-type]
    first, second = Recorder(user_id=1), Recorder(user_id=1)
    for socket in (first, second):
        await the_hub.join(7, socket)
        await the_hub.show(7, socket.user_id)
    assert await the_hub.online(7) == 1  # one user, two tabs
    await the_hub.leave(7, first)
    assert the_hub.presence.local_online(7) == 1
    await the_hub.leave(7, second)
    assert 7 not in the_hub.rooms
    assert the_hub.presence.local_online(7) == 0
    assert "specific.worker!one" not in layer.groups["room.7"]
    await the_hub.close()
