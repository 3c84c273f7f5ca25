"""``python -m chatapp.bench.search`` at a small size, on the test database."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from chatapp.bench import search as bench

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


async def test_seeding_then_searching_as_the_member_of_some_rooms() -> None:
    from chatapp.chat import message_sql, sql
    from chatapp.chat.models import Membership, Message, Room

    searcher = await sync_to_async(bench.seed)(600, 12, 3)
    assert await Room.objects.filter(title__startswith="bsearch ").acount() == 12
    assert await Message.objects.filter(room__title__startswith="bsearch ").acount() == 600
    rooms = {r.pk: r async for r in Room.objects.filter(title__startswith="bsearch ")}
    assert all(room.last_seq == room.last_rev == 50 for room in rooms.values())
    readable = {m.room_id async for m in Membership.objects.filter(user_id=searcher)}
    assert len(readable) == 3
    # Seqs are gap-free per room, as the server's own writes keep them.
    seqs = [
        s async for s in Message.objects.filter(room_id=min(rooms)).values_list("seq", flat=True)
    ]
    assert sorted(seqs) == list(range(1, 51))
    # The same sizes again reuse the data; other sizes are refused.
    assert await sync_to_async(bench.seed)(600, 12, 3) == searcher
    with pytest.raises(SystemExit):
        await sync_to_async(bench.seed)(700, 12, 3)

    common = bench.words()[0]
    found, _ = await message_sql.search(
        user_id=searcher, text=common, room_id=None, before_id=None, limit=50
    )
    assert found and {row.room_id for row, _ in found} <= readable
    assert all(f"[[{common}]]" in marked for _, marked in found)
    times, counts = await bench.timed(searcher, [common, bench.words()[-1]])
    assert len(times) == 2 and counts[0] == 20
    await sql.close_pool()
