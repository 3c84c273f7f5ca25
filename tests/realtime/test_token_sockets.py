"""API tokens on the /ws/ handshake."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from chatapp.tokens.services import token_create, token_revoke

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
async def alice_token(make_user) -> tuple[Any, str]:  # type: ignore[no-untyped-def]
    user = await sync_to_async(make_user)("alice")
    new = await sync_to_async(token_create)(user=user, name="bot")
    return user, new.secret


def bearer(token: str) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {token}".encode())]


async def closed_code(socket: Any, timeout: float = 3) -> int:
    while True:
        output = await socket.comm.receive_output(timeout=timeout)
        if output["type"] == "websocket.close":
            return int(output["code"])


async def test_a_token_socket_needs_no_origin_and_gets_hello(connect, alice_token) -> None:
    user, token = alice_token
    socket = await connect(None, origin=None, extra=bearer(token))
    assert socket.connected
    hello = await socket.recv()
    assert hello["type"] == "hello" and hello["user"]["id"] == user.pk


async def test_a_token_socket_from_another_origin_is_fine(connect, alice_token) -> None:
    _, token = alice_token
    socket = await connect(None, origin=b"https://elsewhere.example", extra=bearer(token))
    assert socket.connected
    assert (await socket.recv())["type"] == "hello"


@pytest.mark.parametrize("token", ["chat_never-issued", "garbage", ""])
async def test_an_invalid_token_is_4401_even_with_a_good_cookie(
    connect, session_for, token: str
) -> None:
    socket = await connect(await session_for("bob"), extra=bearer(token))
    assert socket.connected
    assert await closed_code(socket) == 4401


async def test_a_token_in_the_query_string_is_4401(connect, alice_token) -> None:
    _, token = alice_token
    socket = await connect(None, query=f"token={token}".encode())
    assert await closed_code(socket) == 4401


async def test_revoking_closes_the_tokens_sockets_within_two_seconds(
    connect, alice_token, session_for
) -> None:
    user, token = alice_token
    socket = await connect(None, origin=None, extra=bearer(token))
    await socket.recv()  # hello
    browser = await connect(await session_for("carol"))
    await browser.recv()
    from chatapp.tokens.models import ApiToken

    token_id = (await ApiToken.objects.aget(user=user)).pk
    await sync_to_async(token_revoke)(user=user, token_id=token_id)
    started = asyncio.get_running_loop().time()
    assert await closed_code(socket, timeout=2.5) == 4401
    assert asyncio.get_running_loop().time() - started <= 2.0
    # A cookie socket of someone else stays open.
    await browser.send({"type": "ping"})
    assert (await browser.recv_type("pong"))["type"] == "pong"


async def test_a_new_password_ends_sessions_not_tokens_and_deactivation_ends_both(
    connect, alice_token, settings
) -> None:
    from django.test import Client

    settings.SESSION_CHECK_INTERVAL = 60  # what closes sockets here is the per-user recheck
    user, token = alice_token
    bot = await connect(None, origin=None, extra=bearer(token))
    await bot.recv()  # hello
    browser = Client()
    await sync_to_async(browser.force_login)(user)
    tab = await connect(browser.cookies["sessionid"].value)
    await tab.recv()  # hello
    user.set_password("a brand new passphrase 42")
    await user.asave()
    assert await closed_code(tab, timeout=2) == 4401
    await bot.send({"type": "ping"})
    assert await bot.recv_type("pong") == {"type": "pong"}
    user.is_active = False
    await user.asave()
    assert await closed_code(bot, timeout=2) == 4401
