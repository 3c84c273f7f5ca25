from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction

from chatapp.chat.models import Message, Room

pytestmark = pytest.mark.django_db


def test_lobby_exists_after_migrating() -> None:
    lobby = Room.objects.get(kind="public", title="Lobby")
    assert lobby.last_seq == 0


def test_models_and_migrations_agree() -> None:
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_seq_is_unique_per_room_and_client_id_per_author(make_user) -> None:
    alice = make_user("alice")
    room = Room.objects.get(title="Lobby")
    Message.objects.create(room=room, seq=1, author=alice, body="hi", client_id="c1")
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(room=room, seq=1, author=alice, body="again")
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(room=room, seq=2, author=alice, body="dup", client_id="c1")
    # Messages without a client_id never collide with each other.
    Message.objects.create(room=room, seq=2, author=alice, body="a")
    Message.objects.create(room=room, seq=3, author=alice, body="b")


def test_usernames_are_unique_regardless_of_case_in_the_database(make_user) -> None:
    from chatapp.accounts.models import User

    make_user("alice")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="ALICE", email="other@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="bob", email="ALICE@example.com")
