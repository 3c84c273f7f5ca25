"""Version 2 over the socket: edit, delete, react, reply, mention, and resuming
with ``after_rev`` (PROTOCOL.md "Message lifecycle"), in process on the whole
application."""

from __future__ import annotations

from typing import Any

import pytest

from tests.realtime.conftest import Socket

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


async def joined(connect, session_for, name: str, room: int) -> Socket:
    socket = await connect(await session_for(name))
    assert (await socket.recv())["type"] == "hello"
    await socket.send({"type": "subscribe", "room": room, "after_seq": None})
    await socket.recv_type("subscribed")
    return socket


async def send(socket: Socket, room: int, body: str, client_id: str, **extra: Any) -> dict:
    await socket.send({"type": "send", "room": room, "body": body, "client_id": client_id, **extra})
    while True:
        frame = await socket.recv()
        if frame["type"] == "ack":
            return frame["message"]
        assert frame["type"] in ("message", "presence", "room", "unread"), frame


async def updated(socket: Socket) -> dict:
    return (await socket.recv_type("message_updated"))["message"]


async def change(socket: Socket) -> dict:
    """The next ``message`` or ``message_updated`` frame, past presence and the like."""
    while True:
        frame = await socket.recv()
        if frame["type"] in ("message", "message_updated"):
            return frame
        assert frame["type"] in ("presence", "typing", "unread"), frame


async def quiet(socket: Socket, seconds: float = 0.3) -> bool:
    """Nothing but presence counts arrives for ``seconds``."""
    while not await socket.nothing(seconds):
        if (await socket.recv())["type"] != "presence":
            return False
    return True


async def error(socket: Socket) -> dict:
    return await socket.recv_type("error")


async def stored(message_id: int):
    from chatapp.chat.models import Message

    return await Message.objects.aget(pk=message_id)


async def test_an_edit_reaches_every_socket_with_a_new_revision(
    connect, session_for, lobby_id
) -> None:
    alice = await joined(connect, session_for, "alice", lobby_id)
    bob = await joined(connect, session_for, "bob", lobby_id)
    sent = await send(alice, lobby_id, "helo", "c1")
    assert (await bob.recv_type("message"))["message"]["rev"] == sent["rev"] == 1
    await alice.send({"type": "edit", "room": lobby_id, "message": sent["id"], "body": " hello "})
    for socket in (alice, bob):
        message = await updated(socket)
        assert (message["id"], message["seq"], message["body"]) == (sent["id"], 1, "hello")
        assert message["rev"] == 2
        assert message["edited_at"].endswith("Z")
    assert (await stored(sent["id"])).body == "hello"
    # The same body again changes nothing and sends nothing.
    await alice.send({"type": "edit", "room": lobby_id, "message": sent["id"], "body": "hello"})
    assert await quiet(bob)


async def test_only_the_author_edits_and_only_within_the_window(
    connect, session_for, lobby_id, settings
) -> None:
    alice = await joined(connect, session_for, "alice", lobby_id)
    bob = await joined(connect, session_for, "bob", lobby_id)
    sent = await send(alice, lobby_id, "mine", "c1")
    await bob.recv_type("message")
    edit = {"type": "edit", "room": lobby_id, "message": sent["id"], "body": "yours", "ref": "e1"}
    await bob.send(edit)
    refused = await error(bob)
    assert (refused["code"], refused["ref"]) == ("not_author", "e1")
    settings.CHAT_EDIT_WINDOW = 0
    await alice.send(edit)
    assert (await error(alice))["code"] == "edit_window"
    assert (await stored(sent["id"])).body == "mine"
    assert await quiet(alice)


async def test_a_room_that_is_not_theirs_hides_its_messages(connect, session_for, lobby_id) -> None:
    from chatapp.chat.models import Room

    other = await Room.objects.acreate(kind="public", title="Other")
    alice = await joined(connect, session_for, "alice", lobby_id)
    sent = await send(alice, lobby_id, "here", "c1")
    # The message exists, but not in the room the frame names.
    for frame in (
        {"type": "edit", "room": other.pk, "message": sent["id"], "body": "x"},
        {"type": "delete", "room": other.pk, "message": sent["id"]},
        {"type": "react", "room": other.pk, "message": sent["id"], "emoji": "👍", "on": True},
        {"type": "edit", "room": lobby_id, "message": 10**12, "body": "x"},
    ):
        await alice.send(frame)
        assert (await error(alice))["code"] == "not_found"
    assert (await stored(sent["id"])).body == "here"


async def test_a_delete_empties_the_message_and_the_quotes_of_it(
    connect, session_for, lobby_id
) -> None:
    alice = await joined(connect, session_for, "alice", lobby_id)
    bob = await joined(connect, session_for, "bob", lobby_id)
    quoted = await send(alice, lobby_id, "the original words", "c1")
    await bob.recv_type("message")
    reply = await send(bob, lobby_id, "I agree", "c2", reply_to=quoted["id"])
    assert reply["reply_to"] == {
        "id": quoted["id"],
        "seq": quoted["seq"],
        "author": quoted["author"],
        "excerpt": "the original words",
    }
    await alice.recv_type("message")
    await bob.send(
        {"type": "react", "room": lobby_id, "message": quoted["id"], "emoji": "👍", "on": True}
    )
    await updated(alice)
    await updated(bob)

    await bob.send({"type": "delete", "room": lobby_id, "message": quoted["id"], "ref": "d"})
    assert (await error(bob))["code"] == "not_author"
    await alice.send({"type": "delete", "room": lobby_id, "message": quoted["id"]})
    for socket in (alice, bob):
        gone, quoting = await updated(socket), await updated(socket)
        assert (gone["id"], gone["deleted"], gone["body"]) == (quoted["id"], True, "")
        assert gone["reactions"] == [] and gone["mentions"] == []
        assert quoting["id"] == reply["id"]
        assert quoting["reply_to"]["excerpt"] == ""
        assert quoting["rev"] == gone["rev"] + 1  # each change has its own revision
    # Deleted: no edit, no reaction, no reply; deleting again changes nothing.
    await alice.send({"type": "edit", "room": lobby_id, "message": quoted["id"], "body": "x"})
    assert (await error(alice))["code"] == "invalid"
    await alice.send(
        {"type": "react", "room": lobby_id, "message": quoted["id"], "emoji": "👍", "on": True}
    )
    assert (await error(alice))["code"] == "invalid"
    await alice.send(
        {
            "type": "send",
            "room": lobby_id,
            "body": "re",
            "client_id": "c3",
            "reply_to": quoted["id"],
        }
    )
    assert (await error(alice))["code"] == "invalid"
    await alice.send({"type": "delete", "room": lobby_id, "message": quoted["id"]})
    assert await quiet(bob)


async def test_a_moderator_deletes_in_a_public_room(connect, session_for, lobby_id) -> None:
    from django.contrib.auth.models import Permission

    from chatapp.accounts.models import User

    alice = await joined(connect, session_for, "alice", lobby_id)
    sent = await send(alice, lobby_id, "spam", "c1")
    mod = await joined(connect, session_for, "mod", lobby_id)
    await mod.send({"type": "delete", "room": lobby_id, "message": sent["id"]})
    assert (await error(mod))["code"] == "not_author"
    user = await User.objects.aget(username="mod")
    permission = await Permission.objects.aget(codename="moderate_room")
    await user.user_permissions.aadd(permission)
    await mod.send({"type": "delete", "room": lobby_id, "message": sent["id"]})
    assert (await updated(alice))["deleted"] is True
    assert (await stored(sent["id"])).deleted


async def test_reactions_count_users_once_and_refuse_what_is_not_one_emoji(
    connect, session_for, lobby_id
) -> None:
    from chatapp.accounts.models import User

    alice = await joined(connect, session_for, "alice", lobby_id)
    bob = await joined(connect, session_for, "bob", lobby_id)
    sent = await send(alice, lobby_id, "react to me", "c1")
    await bob.recv_type("message")
    ids = {u.username: u.pk async for u in User.objects.all()}

    def react(emoji: str, on: bool = True) -> dict:
        return {"type": "react", "room": lobby_id, "message": sent["id"], "emoji": emoji, "on": on}

    await bob.send(react("👍🏽"))
    await alice.send(react("🎉"))
    await alice.send(react("👍🏽"))
    for _ in range(2):
        await updated(bob)
    last = await updated(bob)
    for _ in range(3):
        assert (await updated(alice))["id"] == sent["id"]
    assert last["reactions"] == [
        {"emoji": "👍🏽", "count": 2, "users": [ids["bob"], ids["alice"]]},
        {"emoji": "🎉", "count": 1, "users": [ids["alice"]]},
    ]
    await bob.send(react("👍🏽"))  # already so: nothing changes, nothing is sent
    assert await quiet(alice)
    for bad in ("a", "👍👍", ":)", "👍 "):
        await bob.send({**react(bad), "ref": "r"})
        assert (await error(bob))["code"] == "invalid", bad
    await alice.send(react("🎉", on=False))
    assert (await updated(bob))["reactions"] == [
        {"emoji": "👍🏽", "count": 2, "users": [ids["bob"], ids["alice"]]}
    ]


async def test_a_21st_emoji_is_refused(connect, session_for, lobby_id) -> None:
    alice = await joined(connect, session_for, "alice", lobby_id)
    sent = await send(alice, lobby_id, "many", "c1")
    emoji = [chr(0x1F600 + i) for i in range(21)]
    for face in emoji[:20]:
        await alice.send(
            {"type": "react", "room": lobby_id, "message": sent["id"], "emoji": face, "on": True}
        )
        await updated(alice)
    await alice.send(
        {"type": "react", "room": lobby_id, "message": sent["id"], "emoji": emoji[20], "on": True}
    )
    assert (await error(alice))["code"] == "invalid"
    # An emoji already there may still gain users.
    bob = await joined(connect, session_for, "bob", lobby_id)
    await bob.send(
        {"type": "react", "room": lobby_id, "message": sent["id"], "emoji": emoji[0], "on": True}
    )
    assert (await updated(bob))["reactions"][0]["count"] == 2


async def test_a_reply_quotes_only_a_message_of_the_same_room(
    connect, session_for, lobby_id
) -> None:
    from chatapp.chat.models import Room

    other = await Room.objects.acreate(kind="public", title="Other")
    alice = await joined(connect, session_for, "alice", lobby_id)
    there = await send(alice, lobby_id, "lobby words", "c1")
    await alice.send({"type": "subscribe", "room": other.pk, "after_seq": None})
    await alice.recv_type("subscribed")
    await alice.send(
        {"type": "send", "room": other.pk, "body": "re", "client_id": "c2", "reply_to": there["id"]}
    )
    assert (await error(alice))["code"] == "invalid"
    assert await Room.objects.filter(pk=other.pk, last_seq=0, last_rev=0).aexists()


async def test_mentions_name_only_readers_and_notify_those_away(
    connect, session_for, lobby_id
) -> None:
    from chatapp.accounts.models import User
    from chatapp.notifications.models import Notification

    alice = await joined(connect, session_for, "alice", lobby_id)
    await session_for("bob")  # not looking at the Lobby
    carol = await joined(connect, session_for, "carol", lobby_id)  # looking at it
    await session_for("dave")
    await User.objects.filter(username="dave").aupdate(is_active=False)
    ids = {u.username: u.pk async for u in User.objects.all()}
    sent = await send(alice, lobby_id, "@BOB and @carol, not @dave nor @nobody; me@bob.org", "m1")
    assert sent["mentions"] == sorted([ids["bob"], ids["carol"]])
    bob_notes = [n async for n in Notification.objects.filter(user_id=ids["bob"])]
    assert [(n.kind, n.actor_id) for n in bob_notes] == [("mention", ids["alice"])]
    assert not await Notification.objects.filter(user_id=ids["carol"]).aexists()
    # An edit that adds a mention notifies once more; one that keeps it does not.
    await carol.recv_type("message")
    await alice.send(
        {"type": "edit", "room": lobby_id, "message": sent["id"], "body": "@bob @alice again"}
    )
    assert (await updated(carol))["mentions"] == sorted([ids["alice"], ids["bob"]])
    assert await Notification.objects.filter(user_id=ids["bob"]).acount() == 1
    assert not await Notification.objects.filter(user_id=ids["alice"]).aexists()  # the author


async def test_a_mention_in_a_private_room_names_no_outsider(connect, session_for) -> None:
    from chatapp.accounts.models import User
    from chatapp.chat.models import Membership, Room
    from chatapp.notifications.models import Notification

    alice_key = await session_for("alice")
    await session_for("bob")
    await session_for("eve")
    ids = {u.username: u.pk async for u in User.objects.all()}
    room = await Room.objects.acreate(
        kind="private", title="a&b", user_low_id=ids["alice"], user_high_id=ids["bob"]
    )
    for name in ("alice", "bob"):
        await Membership.objects.acreate(room=room, user_id=ids[name])
    alice = await connect(alice_key)
    await alice.recv()
    sent = await send(alice, room.pk, "hey @eve and @bob", "p1")
    assert sent["mentions"] == [ids["bob"]]
    assert not await Notification.objects.filter(user_id=ids["eve"]).aexists()


async def test_a_reply_notifies_the_quoted_author_when_away(connect, session_for, lobby_id) -> None:
    from chatapp.accounts.models import User
    from chatapp.notifications.models import Notification

    alice = await joined(connect, session_for, "alice", lobby_id)
    first = await send(alice, lobby_id, "question?", "q")
    await alice.close()  # away now
    bob = await joined(connect, session_for, "bob", lobby_id)
    await send(bob, lobby_id, "answer", "a", reply_to=first["id"])
    alice_id = (await User.objects.aget(username="alice")).pk
    notes = [n.kind async for n in Notification.objects.filter(user_id=alice_id)]
    assert notes == ["reply"]


async def test_resume_with_after_rev_sends_the_changes_then_the_new_messages(
    connect, session_for, lobby_id
) -> None:
    alice = await joined(connect, session_for, "alice", lobby_id)
    sent = [await send(alice, lobby_id, f"m{i}", f"c{i}") for i in range(4)]
    bob_key = await session_for("bob")
    bob = await connect(bob_key)
    await bob.recv()
    await bob.send({"type": "subscribe", "room": lobby_id, "after_seq": 0})
    await bob.recv_type("subscribed")
    held = [(await bob.recv_type("message"))["message"] for _ in range(4)]
    seen_rev = max(m["rev"] for m in held)
    await bob.close()
    # While bob is away: m2 and m0 change (in that order), m1 twice, and two new messages.
    edit = {"type": "edit", "room": lobby_id}
    await alice.send({**edit, "message": sent[2]["id"], "body": "m2 fixed"})
    await alice.send({**edit, "message": sent[0]["id"], "body": "m0 fixed"})
    await alice.send({**edit, "message": sent[1]["id"], "body": "m1 once"})
    await alice.send({**edit, "message": sent[1]["id"], "body": "m1 twice"})
    for _ in range(4):
        await updated(alice)
    newer = [await send(alice, lobby_id, f"n{i}", f"n{i}") for i in range(2)]
    await alice.send({**edit, "message": newer[0]["id"], "body": "n0 fixed"})
    await updated(alice)

    bob = await connect(bob_key)
    await bob.recv()
    await bob.send(
        {"type": "subscribe", "room": lobby_id, "after_seq": held[-1]["seq"], "after_rev": seen_rev}
    )
    subscribed = await bob.recv_type("subscribed")
    assert subscribed["last_rev"] == 11
    frames = [await change(bob) for _ in range(5)]
    assert [(f["type"], f["message"]["body"]) for f in frames] == [
        ("message_updated", "m0 fixed"),  # oldest seq first
        ("message_updated", "m1 twice"),  # its current state, once
        ("message_updated", "m2 fixed"),
        ("message", "n0 fixed"),
        ("message", "n1"),
    ]
    assert max(f["message"]["rev"] for f in frames) == subscribed["last_rev"]
    assert await quiet(bob)


async def test_a_change_that_was_never_published_is_filled_in_revision_order(
    connect, session_for, lobby_id
) -> None:
    from chatapp.accounts.models import User
    from chatapp.chat import message_sql, services

    alice = await joined(connect, session_for, "alice", lobby_id)
    bob = await joined(connect, session_for, "bob", lobby_id)
    first = await send(alice, lobby_id, "one", "c1")
    await bob.recv_type("message")
    alice_id = (await User.objects.aget(username="alice")).pk
    # Stored but never published (as if the layer dropped it) …
    await message_sql.message_edit(message_id=first["id"], user_id=alice_id, body="uno", window=60)
    # … then a published message: bob gets the edit (from the database) first.
    await services.message_send(
        room_id=lobby_id, room_kind="public", author_id=alice_id, body="two", client_id="c2"
    )
    frames = [await change(bob) for _ in range(2)]
    assert [(f["type"], f["message"]["body"], f["message"]["rev"]) for f in frames] == [
        ("message_updated", "uno", 2),
        ("message", "two", 3),
    ]
    assert await quiet(bob)


async def test_history_around_a_seq_over_the_socket(connect, session_for, lobby_id) -> None:
    alice = await joined(connect, session_for, "alice", lobby_id)
    for i in range(7):
        await send(alice, lobby_id, f"m{i + 1}", f"c{i}")
    await alice.send({"type": "history", "room": lobby_id, "around_seq": 7, "limit": 4})
    page = await alice.recv_type("history")
    assert [m["seq"] for m in page["messages"]] == [5, 6, 7]
    assert (page["has_more"], page["has_newer"]) == (True, False)
    await alice.send(
        {"type": "history", "room": lobby_id, "around_seq": 3, "before_seq": 2, "ref": "h"}
    )
    assert (await error(alice))["code"] == "invalid"


async def private_pair(session_for, connect) -> tuple[Socket, Socket, Socket, int, dict[str, int]]:
    """Alice and bob with a private room, each with a socket subscribed to it,
    and carol, a third person, connected."""
    from chatapp.accounts.models import User
    from chatapp.chat.models import Membership, Room

    keys = {name: await session_for(name) for name in ("alice", "bob", "carol")}
    ids = {u.username: u.pk async for u in User.objects.all()}
    room = await Room.objects.acreate(
        kind="private", title="a&b", user_low_id=ids["alice"], user_high_id=ids["bob"]
    )
    for name in ("alice", "bob"):
        await Membership.objects.acreate(room=room, user_id=ids[name])
    sockets = []
    for name in ("alice", "bob"):
        socket = await connect(keys[name])
        await socket.recv()
        await socket.send({"type": "subscribe", "room": room.pk, "after_seq": None})
        await socket.recv_type("subscribed")
        sockets.append(socket)
    carol = await connect(keys["carol"])
    await carol.recv()
    return sockets[0], sockets[1], carol, room.pk, ids


async def test_read_receipts_reach_the_peer_only_and_follow_the_setting(
    connect, session_for
) -> None:
    from chatapp.accounts.models import User
    from chatapp.chat import selectors

    alice, bob, carol, room, ids = await private_pair(session_for, connect)
    sent = await send(alice, room, "did you read this?", "r1")
    await bob.send({"type": "read", "room": room, "seq": sent["seq"]})
    while (frame := await alice.recv())["type"] != "read_receipt":
        assert frame["type"] in ("room", "presence", "unread", "message"), frame
    assert frame == {"type": "read_receipt", "room": room, "user": ids["bob"], "seq": 1}
    assert (await selectors.room_for_user(ids["alice"], room)).peer_read_seq == 1
    assert await quiet(carol)  # a third person is never told
    # Reading the same seq again moves nothing and tells nobody.
    await bob.send({"type": "read", "room": room, "seq": sent["seq"]})
    assert await quiet(alice)
    # Bob hides read receipts: his and alice's both go.
    await User.objects.filter(pk=ids["bob"]).aupdate(show_read_receipts=False)
    second = await send(alice, room, "and this?", "r2")
    await bob.send({"type": "read", "room": room, "seq": second["seq"]})
    while (frame := await bob.recv())["type"] != "unread":
        assert frame["type"] in ("room", "presence", "message"), frame
    while not await alice.nothing(0.3):
        assert (await alice.recv())["type"] != "read_receipt"
    assert (await selectors.room_for_user(ids["alice"], room)).peer_read_seq is None
    assert (await selectors.room_for_user(ids["bob"], room)).peer_read_seq is None


async def test_resuming_after_many_changes_reads_one_query_per_page(
    connect, session_for, lobby_id, monkeypatch
) -> None:
    from chatapp.accounts.models import User
    from chatapp.chat import message_sql
    from chatapp.realtime.hub import CATCH_UP_PAGE

    key = await session_for("alice")
    alice_id = (await User.objects.aget(username="alice")).pk
    sent = [
        {
            "id": (
                await message_sql.message_insert(
                    room_id=lobby_id, author_id=alice_id, body=f"m{i}", client_id=None
                )
            )[0].id
        }
        for i in range(30)
    ]
    # While away: 450 changes over the 30 messages, 15 each: the even ones
    # edited, the odd ones given a reaction and have it taken back, in turn.
    changes = 450
    for n in range(changes):
        message = sent[n % len(sent)]["id"]
        if n % 2 == 0:
            await message_sql.message_edit(
                message_id=message, user_id=alice_id, body=f"edit {n}", window=3600
            )
        else:
            await message_sql.message_react(
                message_id=message, user_id=alice_id, emoji="👍", on=(n // 30) % 2 == 0
            )
    selects: list[str] = []
    real_select = message_sql._select

    async def counted(conn, where, *args):
        selects.append(where)
        return await real_select(conn, where, *args)

    monkeypatch.setattr(message_sql, "_select", counted)
    monkeypatch.setattr("chatapp.chat.socket.CATCH_UP_PAGE", 7)  # several pages of 30
    back = await connect(key)
    await back.recv()
    await back.send({"type": "subscribe", "room": lobby_id, "after_seq": 30, "after_rev": 30})
    subscribed = await back.recv_type("subscribed")
    updates = [await updated(back) for _ in range(len(sent))]
    assert [m["seq"] for m in updates] == list(range(1, 31))
    assert max(m["rev"] for m in updates) == subscribed["last_rev"] == 30 + changes
    assert await quiet(back)
    # One query a page of 7: 30 changed messages are 5 pages (the last one short),
    # then one for the new messages; reactions come in the same query, no N+1.
    assert len(selects) == 5 + 1, selects
    assert CATCH_UP_PAGE == 200
