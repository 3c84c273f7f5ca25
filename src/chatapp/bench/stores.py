"""How many messages a second PostgreSQL stores through the hot path's SQL
(``chat.message_sql.message_insert``: the seq and revision bump, the insert,
the author's read marker, one transaction), with concurrent writers spread
over rooms, as a busy deployment's workers would send them.

    DATABASE_URL=... python -m chatapp.bench.stores [--writers 16] [--rooms 100]
        [--seconds 10] [--repeat 3]

Prints, per round and as medians: stores a second, and the p50 and p99 time
of one store. It writes to rooms of its own (public rooms named
``bench-stores-N``, deleted with their messages at the end: public rooms are
in every user's ``hello``) in the database of ``DATABASE_URL``: give it a
database for benchmarks, never production's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def one_round(
    room_ids: list[int], author_id: int, writers: int, seconds: float
) -> dict[str, float]:
    from chatapp.chat import message_sql

    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    async def writer(n: int) -> None:
        i = 0
        while time.monotonic() < deadline:
            room = room_ids[(n + i * writers) % len(room_ids)]
            started = time.perf_counter()
            await message_sql.message_insert(
                room_id=room,
                author_id=author_id,
                body=f"bench message {n}-{i}",
                client_id=uuid.uuid4().hex,
            )
            latencies.append(time.perf_counter() - started)
            i += 1

    started = time.monotonic()
    await asyncio.gather(*(writer(n) for n in range(writers)))
    elapsed = time.monotonic() - started
    return {
        "stores_per_s": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
    }


async def run(args: argparse.Namespace) -> None:
    from asgiref.sync import sync_to_async

    from chatapp.accounts.models import User
    from chatapp.chat import sql
    from chatapp.chat.models import Room

    def prepare() -> tuple[list[int], int]:
        author, _ = User.objects.get_or_create(
            username="bench-stores", defaults={"email": "bench-stores@example.com"}
        )
        rooms = [
            Room.objects.get_or_create(kind="public", title=f"bench-stores-{n}")[0].pk
            for n in range(args.rooms)
        ]
        return rooms, author.pk

    def forget(rooms: list[int]) -> None:
        # Public rooms are in every user's hello: leave none behind.
        Room.objects.filter(pk__in=rooms).delete()

    room_ids, author_id = await sync_to_async(prepare)()
    rounds = []
    for n in range(args.repeat):
        result = await one_round(room_ids, author_id, args.writers, args.seconds)
        rounds.append(result)
        print(
            f"round {n + 1}: {result['stores_per_s']:,.0f} stores/s, "
            f"p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms",
            flush=True,
        )
    await sync_to_async(forget)(room_ids)
    await sql.close_pool()
    medians = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    print(
        f"median of {len(rounds)}: {medians['stores_per_s']:,.0f} stores/s "
        f"({args.writers} writers, {args.rooms} rooms), p50 {medians['p50_ms']:.2f} ms, "
        f"p99 {medians['p99_ms']:.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--rooms", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    # The pool must hold every writer's connection.
    from django.conf import settings

    settings.CHAT_DB_POOL_MAX = max(settings.CHAT_DB_POOL_MAX, args.writers)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
