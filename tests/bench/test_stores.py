"""``python -m chatapp.bench.stores``: one short round against the test database."""

from __future__ import annotations

import pytest

from chatapp.bench import stores

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


async def test_a_round_counts_what_it_stored() -> None:
    from chatapp.accounts.models import User
    from chatapp.chat import sql
    from chatapp.chat.models import Message, Room

    author = await User.objects.acreate(username="writer", email="writer@example.com")
    rooms = [(await Room.objects.acreate(kind="public", title=f"r{n}")).pk for n in range(3)]
    result = await stores.one_round(rooms, author.pk, writers=4, seconds=0.5)
    stored = await Message.objects.filter(room_id__in=rooms).acount()
    await sql.close_pool()
    assert stored > 0
    # stores/s is what was stored over the round's time (about 0.5 s).
    assert 0.4 * stored <= result["stores_per_s"] <= 2.5 * stored
    assert 0 < result["p50_ms"] <= result["p99_ms"]
    # Seqs stayed gap-free per room under concurrent writers.
    for room in rooms:
        seqs = [m async for m in Message.objects.filter(room_id=room).values_list("seq", flat=True)]
        assert sorted(seqs) == list(range(1, len(seqs) + 1))
