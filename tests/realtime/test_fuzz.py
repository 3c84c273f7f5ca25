"""Fuzz every client frame type with hostile values: no frame closes the
socket or reaches a bug (``server_error``), and the socket still answers a
ping after each one (issue 10, "Also")."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as fuzz_settings
from hypothesis import strategies as st

from tests.hostile import dumps, objects, texts

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

FIELDS = {
    "subscribe": ["room", "after_seq"],
    "unsubscribe": ["room"],
    "send": ["room", "body", "client_id"],
    "history": ["room", "before_seq", "limit"],
    "typing": ["room"],
    "read": ["room", "seq"],
    "ping": [],
}


def frames(lobby_id: int) -> st.SearchStrategy[str]:
    good = {
        "room": lobby_id,
        "after_seq": 0,
        "before_seq": None,
        "limit": 5,
        "seq": 1,
        "body": "hi",
        "client_id": "c1",
    }

    @st.composite
    def frame(draw: st.DrawFn) -> str:
        kind = draw(st.one_of(st.sampled_from(sorted(FIELDS)), texts))
        text = draw(objects([*FIELDS.get(kind, ["room"]), "ref"], good))
        if text.startswith("{") and draw(st.integers(0, 9)):
            text = '{"type": ' + dumps(kind) + ("," if text != "{}" else "") + text[1:]
        return text

    return frame()


@pytest.fixture
async def fuzz_socket(connect, session_for, lobby_id, settings) -> Any:  # type: ignore[no-untyped-def]
    settings.WS_FRAME_BURST = 100_000  # the fuzz is not testing the frame rate limit
    socket = await connect(await session_for("fuzzer"))
    assert (await socket.recv())["type"] == "hello"
    socket.lobby_id = lobby_id
    return socket


@fuzz_settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.large_base_example,
        HealthCheck.data_too_large,
    ],
)
@given(data=st.data())
async def test_no_frame_drops_the_socket(fuzz_socket, data) -> None:  # type: ignore[no-untyped-def]
    text = data.draw(frames(fuzz_socket.lobby_id), label="frame")
    await fuzz_socket.comm.send_to(text)
    await fuzz_socket.comm.send_to('{"type":"ping"}')
    while True:
        out = await fuzz_socket.comm.receive_output(timeout=5)
        assert out["type"] == "websocket.send", (out, text[:200])
        answer = json.loads(out["text"])
        assert answer.get("code") != "server_error", (answer, text[:200])
        if answer["type"] == "pong":
            break


async def test_the_worker_still_serves_after_the_fuzz(connect, session_for, lobby_id) -> None:
    """A fresh socket after a burst of hostile frames on another one."""
    from tests.hostile import deep

    hostile = await connect(await session_for("hostile"))
    await hostile.recv()
    for text in (deep(50_000), '{"type":"send","room":' + str(2**64) + "}", '{"type":"\\ud800"}'):
        await hostile.send(text)
        assert (await hostile.recv_type("error"))["code"] == "invalid"
    fresh = await connect(await session_for("fresh"))
    await fresh.recv()
    await fresh.send({"type": "subscribe", "room": lobby_id, "after_seq": None})
    assert (await fresh.recv_type("subscribed"))["room"] == lobby_id
    await hostile.send({"type": "ping"})
    assert await hostile.recv_type("pong") == {"type": "pong"}
