"""GET /api/search: full-text search over the rooms the caller can read now."""

from __future__ import annotations

import pytest
from django.test import AsyncClient

from chatapp.chat import message_sql
from chatapp.chat.models import Membership, Room
from tests.chat.conftest import post

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


async def _bodies(client: AsyncClient, query: str) -> list[str]:
    answer = await client.get("/api/search", {"q": query})
    assert answer.status_code == 200, answer.content
    return [result["body"] for result in answer.json()["results"]]


async def test_words_phrases_exclusions_and_word_forms(alice: AsyncClient) -> None:
    for body in (
        "the cat runs in the garden",
        "a big cat and a dog",
        "cat big, not together",
        "nous avons mangé au café",
        "they were running late",
    ):
        await post("bob", body)
    assert await _bodies(alice, "cat") == [
        "cat big, not together",
        "a big cat and a dog",
        "the cat runs in the garden",
    ]  # newest first
    assert await _bodies(alice, "cat garden") == ["the cat runs in the garden"]  # all words
    assert await _bodies(alice, '"big cat"') == ["a big cat and a dog"]  # a phrase
    assert await _bodies(alice, "cat -dog") == [
        "cat big, not together",
        "the cat runs in the garden",
    ]
    assert await _bodies(alice, "running") == [
        "they were running late",
        "the cat runs in the garden",
    ]
    assert await _bodies(alice, "manger") == ["nous avons mangé au café"]  # French forms
    assert await _bodies(alice, "cafe") == ["nous avons mangé au café"]  # accents ignored


async def test_highlights_mark_the_matches(alice: AsyncClient) -> None:
    await post("bob", "Running cats are the best cats")
    (result,) = (await alice.get("/api/search", {"q": "cat"})).json()["results"]
    assert result["highlight"] == "Running [[cats]] are the best [[cats]]"
    assert result["body"] == "Running cats are the best cats"
    assert result["author"]["username"] == "bob" and result["seq"] == 1


async def test_pages_go_back_by_id(alice: AsyncClient) -> None:
    rows = [await post("bob", f"lunch number {i}") for i in range(5)]
    page = (await alice.get("/api/search", {"q": "lunch", "limit": 2})).json()
    assert [r["id"] for r in page["results"]] == [rows[4].id, rows[3].id]
    assert page["has_more"] is True
    before = page["results"][-1]["id"]
    page = (await alice.get("/api/search", {"q": "lunch", "before": before, "limit": 5})).json()
    assert [r["id"] for r in page["results"]] == [rows[2].id, rows[1].id, rows[0].id]
    assert page["has_more"] is False


async def test_only_rooms_the_caller_reads_now_and_never_deleted_messages(
    alice: AsyncClient,
) -> None:
    from chatapp.accounts.models import User

    bob = await User.objects.acreate(username="bob", email="bob@example.com")
    carol = await User.objects.acreate(username="carol", email="carol@example.com")
    me = await User.objects.aget(username="alice")
    theirs = await Room.objects.acreate(kind="private", title="b&c", user_low=bob, user_high=carol)
    ours = await Room.objects.acreate(kind="private", title="a&b", user_low=me, user_high=bob)
    for room, members in ((theirs, (bob, carol)), (ours, (me, bob))):
        for member in members:
            await Membership.objects.acreate(room=room, user=member)
    await post("bob", "secret plans", theirs)
    await post("bob", "shared plans", ours)
    gone = await post("alice", "deleted plans")
    await message_sql.message_delete(message_id=gone.id, user_id=me.pk)
    assert await _bodies(alice, "plans") == ["shared plans"]
    answer = await alice.get("/api/search", {"q": "plans", "room": theirs.pk})
    assert answer.status_code == 404 and "secret" not in answer.content.decode()
    # Unfriended: the private room closes, and its messages leave the results.
    await Room.objects.filter(pk=ours.pk).aupdate(closed=True)
    assert await _bodies(alice, "plans") == []


@pytest.mark.parametrize("query", ["", "   ", "x" * 201])
async def test_empty_or_long_queries_are_400(alice: AsyncClient, query: str) -> None:
    answer = await alice.get("/api/search", {"q": query})
    assert (answer.status_code, answer.json()["error"]["code"]) == (400, "invalid")


@pytest.mark.parametrize(
    "query",
    ["'; DROP TABLE chat_message; --", "a & b | !c", "(", ":*", '"unclosed', "-", "!!", "<->"],
)
async def test_sql_and_tsquery_metacharacters_are_only_text(alice: AsyncClient, query: str) -> None:
    await post("bob", "a b c plain words")
    answer = await alice.get("/api/search", {"q": query})
    assert answer.status_code == 200
    assert isinstance(answer.json()["results"], list)
    assert await Room.objects.filter(title="Lobby").aexists()
