"""The session watcher (``realtime.sessions``) and the handshake's session
check (``chat.socket.ChatEndpoint.authenticate``)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from django.test import override_settings

from chatapp.realtime.sessions import SessionWatcher


class Watched:
    def __init__(self, key: str) -> None:
        self.session_key = key
        self.ended = asyncio.Event()

    async def session_ended(self) -> None:
        self.ended.set()


@override_settings(SESSION_CHECK_INTERVAL=0.02)
async def test_sockets_of_ended_sessions_are_told_and_an_outage_ends_none() -> None:
    live = {"a", "b"}
    database_down = False

    async def live_sessions(keys: list[str]) -> set[str]:
        if database_down:
            raise asyncpg.CannotConnectNowError("the database system is starting up")
        return live & set(keys)

    watcher = SessionWatcher()
    a, b = Watched("a"), Watched("b")
    watcher.add(a, live_sessions)
    watcher.add(b, live_sessions)
    database_down = True
    await asyncio.sleep(0.1)
    assert not a.ended.is_set() and not b.ended.is_set()  # nobody is logged out by an outage
    assert watcher.task is not None and not watcher.task.done()
    database_down = False
    live.discard("b")
    await asyncio.wait_for(b.ended.wait(), 1)
    assert not a.ended.is_set()
    watcher.discard(a)
    await asyncio.wait_for(watcher.task, 1)  # no sockets left: the loop ends


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
async def test_a_session_made_before_a_password_change_does_not_open_a_socket(make_user) -> None:
    from asgiref.sync import sync_to_async
    from django.test import Client

    from chatapp.chat import sql
    from chatapp.chat.socket import ChatEndpoint

    user = await sync_to_async(make_user)("alice")
    client = Client()
    await sync_to_async(client.force_login)(user)
    key = client.cookies["sessionid"].value
    scope = {"type": "websocket", "headers": [(b"cookie", f"sessionid={key}".encode())]}
    endpoint = ChatEndpoint()
    try:
        identity = await endpoint.authenticate(scope)  # type: ignore[arg-type]
        assert identity is not None and identity.user_id == user.pk
        assert '"type":"hello"' in identity.hello
        user.set_password("another long passphrase")
        await user.asave()
        assert await endpoint.authenticate(scope) is None  # type: ignore[arg-type]
        user.is_active = False
        await user.asave()
        assert await endpoint.authenticate(scope) is None  # type: ignore[arg-type]
        bad = {"type": "websocket", "headers": [(b"cookie", b"sessionid=" + b"x" * 500)]}
        assert await endpoint.authenticate(bad) is None  # type: ignore[arg-type]
    finally:
        await sql.close_pool()
