"""Version 2 over HTTP: PATCH and DELETE /api/messages/{id}, reactions by URL,
and GET /api/rooms/{id}/changes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import quote

import httpx
import pytest
from django.test import AsyncClient

from chatapp.chat.models import Membership, Message, Room
from tests.chat.conftest import post, the_lobby

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


async def test_patch_edits_ones_own_message(alice: AsyncClient) -> None:
    row = await post("alice", "helo")
    answer = await alice.patch(
        f"/api/messages/{row.id}", {"body": " hello "}, content_type="application/json"
    )
    assert answer.status_code == 200
    message = answer.json()
    assert (message["body"], message["rev"], message["seq"]) == ("hello", 2, 1)
    assert message["edited_at"].endswith("Z")
    assert (await Message.objects.aget(pk=row.id)).body == "hello"


async def test_patch_refuses_others_empty_bodies_and_late_edits(
    alice: AsyncClient, settings
) -> None:
    theirs = await post("bob", "bob's")
    answer = await alice.patch(
        f"/api/messages/{theirs.id}", {"body": "x"}, content_type="application/json"
    )
    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "not_author")
    mine = await post("alice", "mine")
    answer = await alice.patch(
        f"/api/messages/{mine.id}", {"body": "  "}, content_type="application/json"
    )
    assert (answer.status_code, answer.json()["error"]["code"]) == (400, "invalid")
    answer = await alice.patch(
        f"/api/messages/{mine.id}", {"body": "x" * 5000}, content_type="application/json"
    )
    assert answer.status_code == 413
    settings.CHAT_EDIT_WINDOW = 0
    answer = await alice.patch(
        f"/api/messages/{mine.id}", {"body": "late"}, content_type="application/json"
    )
    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "edit_window")
    assert [m.body async for m in Message.objects.order_by("seq")] == ["bob's", "mine"]


async def test_messages_of_rooms_one_cannot_read_are_404(
    alice: AsyncClient, bearer: httpx.AsyncClient
) -> None:
    from chatapp.accounts.models import User

    bob = await User.objects.acreate(username="bob", email="bob@example.com")
    carol = await User.objects.acreate(username="carol", email="carol@example.com")
    private = await Room.objects.acreate(kind="private", title="b&c", user_low=bob, user_high=carol)
    await Membership.objects.acreate(room=private, user=bob)
    await Membership.objects.acreate(room=private, user=carol)
    secret = await post("bob", "secret", private)
    for method, path in (
        ("patch", f"/api/messages/{secret.id}"),
        ("delete", f"/api/messages/{secret.id}"),
        ("get", f"/api/rooms/{private.pk}/changes"),
        ("delete", "/api/messages/999999"),
    ):
        answer = await getattr(alice, method)(path, {"body": "x"}, content_type="application/json")
        assert answer.status_code == 404, (method, path)
        assert "secret" not in answer.content.decode()
    answer = await bearer.put(f"/api/messages/{secret.id}/reactions/{quote('👍')}")
    assert answer.status_code == 404
    assert (await Message.objects.aget(pk=secret.id)).body == "secret"
    assert not await Message.objects.filter(pk=secret.id, rev__gt=secret.rev).aexists()


async def test_delete_answers_the_deleted_message(alice: AsyncClient) -> None:
    mine = await post("alice", "oops")
    answer = await alice.delete(f"/api/messages/{mine.id}")
    assert answer.status_code == 200
    message = answer.json()
    assert (message["deleted"], message["body"], message["seq"]) == (True, "", 1)
    theirs = await post("bob", "not yours")
    answer = await alice.delete(f"/api/messages/{theirs.id}")
    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "not_author")


@pytest.fixture
async def bearer(alice: AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """Alice over httpx on the ASGI app: unlike Django's test client, it gives
    the app a percent-decoded UTF-8 path, as uvicorn does (an emoji in a URL)."""
    from asgiref.sync import sync_to_async

    from chatapp.accounts.models import User
    from chatapp.tokens.services import token_create
    from config.asgi import application

    user = await User.objects.aget(username="alice")
    token = (await sync_to_async(token_create)(user=user, name="test")).secret
    transport = httpx.ASGITransport(app=application)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://127.0.0.1:8000", headers=headers
    ) as client:
        yield client


async def test_reactions_by_url(bearer: httpx.AsyncClient) -> None:
    alice = bearer
    row = await post("bob", "nice")
    path = f"/api/messages/{row.id}/reactions/{quote('❤️')}"
    answer = await alice.put(path)
    assert answer.status_code == 200
    (reaction,) = answer.json()["reactions"]
    assert (reaction["emoji"], reaction["count"]) == ("❤️", 1)
    again = await alice.put(path)
    assert again.json()["rev"] == answer.json()["rev"]  # already so: no new revision
    answer = await alice.delete(path)
    assert answer.json()["reactions"] == []
    unchanged = await alice.delete(path)
    assert unchanged.status_code == 200 and unchanged.json()["rev"] == answer.json()["rev"]
    for bad in ("a", quote("👍👍"), "x" * 40):
        answer = await alice.put(f"/api/messages/{row.id}/reactions/{bad}")
        assert (answer.status_code, answer.json()["error"]["code"]) == (400, "invalid"), bad


async def test_changes_page_by_revision(alice: AsyncClient, bearer: httpx.AsyncClient) -> None:
    lobby = await the_lobby()
    rows = [await post("alice", f"m{i}") for i in range(3)]
    await alice.patch(
        f"/api/messages/{rows[0].id}", {"body": "m0!"}, content_type="application/json"
    )
    answer = await bearer.put(f"/api/messages/{rows[1].id}/reactions/{quote('👍')}")
    assert answer.status_code == 200
    page = (await alice.get(f"/api/rooms/{lobby.pk}/changes?after_rev=2&limit=2")).json()
    assert [(m["body"], m["rev"]) for m in page["messages"]] == [("m2", 3), ("m0!", 4)]
    assert (page["last_rev"], page["has_more"]) == (5, True)
    page = (await alice.get(f"/api/rooms/{lobby.pk}/changes?after_rev=4")).json()
    assert [(m["body"], m["rev"]) for m in page["messages"]] == [("m1", 5)]
    assert page["messages"][0]["reactions"][0]["emoji"] == "👍"
    assert (page["last_rev"], page["has_more"]) == (5, False)
    for query in ("after_rev=-1", "after_rev=x", "limit=0"):
        answer = await alice.get(f"/api/rooms/{lobby.pk}/changes?{query}")
        assert answer.status_code == 400, query


async def test_a_page_around_a_message_pages_both_ways(alice: AsyncClient) -> None:
    lobby = await the_lobby()
    for i in range(10):
        await post("alice", f"m{i + 1}")
    url = f"/api/rooms/{lobby.pk}/messages"
    page = (await alice.get(f"{url}?around_seq=5&limit=4")).json()
    assert [m["seq"] for m in page["messages"]] == [3, 4, 5, 6]
    assert (page["has_more"], page["has_newer"]) == (True, True)
    page = (await alice.get(f"{url}?after_seq=6&limit=3")).json()
    assert [m["seq"] for m in page["messages"]] == [7, 8, 9]
    assert (page["has_more"], page["has_newer"]) == (True, True)
    page = (await alice.get(f"{url}?after_seq=8&limit=3")).json()
    assert [m["seq"] for m in page["messages"]] == [9, 10]
    assert page["has_newer"] is False
    page = (await alice.get(f"{url}?around_seq=1&limit=4")).json()
    assert [m["seq"] for m in page["messages"]] == [1, 2, 3, 4]
    assert (page["has_more"], page["has_newer"]) == (False, True)
    answer = await alice.get(f"{url}?around_seq=5&before_seq=3")
    assert (answer.status_code, answer.json()["error"]["code"]) == (400, "invalid")
