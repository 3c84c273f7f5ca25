"""Search at size: ``GET /api/search``'s query over a million messages.

    DATABASE_URL=.../chatapp_search python -m chatapp.bench.search
        [--messages 1000000] [--rooms 1000] [--readable 50] [--queries 40]

Seeds (once per size; a later run with the same sizes reuses the data) a
database of its own: ``--rooms`` private rooms, one user who is a member of
``--readable`` of them, and ``--messages`` messages spread evenly, their
bodies drawn from a vocabulary with a few very common words and a long tail
of rare ones (Zipf-like). Then times, as that user, the search query the API
runs (``chat.message_sql.search``, first page of 20) for common words, rare
words and two-word phrases taken from stored messages, and prints p50 and
p99 of each, with the size of the search index. Give it a database of its
own: seeding writes a million rows.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time

VOCABULARY = 5000
SEARCHER = "bench-searcher"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def words() -> list[str]:
    """A fixed vocabulary: pronounceable words, the first ones the commonest."""
    rng = random.Random(7)  # noqa: S311 - the same benchmark data every run, not a secret
    consonants, vowels = "bcdfghjklmnprstvz", "aeiou"
    found: dict[str, None] = {}
    while len(found) < VOCABULARY:
        length = 2 + len(found) * 3 // VOCABULARY
        word = "".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(length))
        found.setdefault(word, None)
    return list(found)


def seed(messages: int, rooms: int, readable: int) -> int:
    """The searcher's id, after making the rooms and messages (unless present)."""
    from django.db import connection

    from chatapp.accounts.models import User

    searcher, _ = User.objects.get_or_create(
        username=SEARCHER, defaults={"email": "searcher@example.com"}
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), COALESCE(sum(last_seq), 0) FROM chat_room "
            "WHERE title LIKE 'bsearch %%'"
        )
        have_rooms, have_messages = cursor.fetchone()
        if have_rooms == rooms and have_messages == messages:
            return searcher.pk
        if have_rooms:
            raise SystemExit(
                f"this database holds {have_rooms} bench rooms and {have_messages} messages "
                "of another size: use a new database"
            )
        started = time.monotonic()
        cursor.execute(
            """
            INSERT INTO accounts_user (password, is_superuser, username, first_name, last_name,
                email, is_staff, is_active, date_joined, avatar, hide_email, pending_email,
                session_epoch, show_read_receipts, language)
            SELECT '!', false, 'bsearch-' || n, '', '', 'bsearch-' || n || '@example.com',
                   false, true, now(), '', false, '', 0, true, 'en'
            FROM generate_series(1, %s) n
            """,
            [rooms],
        )
        cursor.execute(
            """
            INSERT INTO chat_room (kind, title, last_seq, last_rev, created_at, user_low_id,
                                   user_high_id, closed)
            SELECT 'private', 'bsearch ' || u.id, 0, 0, now(), LEAST(u.id, %s), GREATEST(u.id, %s),
                   false
            FROM accounts_user u WHERE u.username LIKE 'bsearch-%%' ORDER BY u.id
            """,
            [searcher.pk, searcher.pk],
        )
        cursor.execute(
            """
            INSERT INTO chat_membership (room_id, user_id, last_read_seq, joined_at)
            SELECT r.id, CASE WHEN r.user_low_id = %s THEN r.user_high_id ELSE r.user_low_id END,
                   0, now()
            FROM chat_room r WHERE r.title LIKE 'bsearch %%'
            UNION ALL
            SELECT r.id, %s, 0, now() FROM (
                SELECT id FROM chat_room WHERE title LIKE 'bsearch %%' ORDER BY id LIMIT %s) r
            """,
            [searcher.pk, searcher.pk, readable],
        )
        # The index is built once after the load: a GIN insert per row is far slower.
        cursor.execute("DROP INDEX IF EXISTS chat_message_search")
        cursor.execute(
            """
            WITH rooms AS (
                SELECT id, row_number() OVER (ORDER BY id) - 1 AS n,
                       CASE WHEN user_low_id = %(searcher)s THEN user_high_id
                            ELSE user_low_id END AS author
                FROM chat_room WHERE title LIKE 'bsearch %%'
            ), numbered AS (
                SELECT g, rooms.id AS room_id, rooms.author, g / %(rooms)s + 1 AS seq
                FROM generate_series(0, %(messages)s - 1) g
                JOIN rooms ON rooms.n = g %% %(rooms)s
            )
            INSERT INTO chat_message (room_id, seq, author_id, body, client_id, created_at, rev,
                created_rev, deleted, reply_excerpt, mentions)
            SELECT room_id, seq, author,
                   (SELECT string_agg(
                       (%(words)s::text[])[1 + floor(%(vocabulary)s * power(random(), 3))::int],
                       ' ') FROM generate_series(1, 4 + (g %% 12)) w WHERE g >= 0),
                   NULL, now() - make_interval(secs => %(messages)s - g), seq, seq, false, '',
                   '{}'
            FROM numbered
            """,
            {
                "searcher": searcher.pk,
                "rooms": rooms,
                "messages": messages,
                "words": words(),
                "vocabulary": VOCABULARY,
            },
        )
        cursor.execute(
            """
            UPDATE chat_room r SET last_seq = m.n, last_rev = m.n
            FROM (SELECT room_id, count(*) AS n FROM chat_message GROUP BY room_id) m
            WHERE m.room_id = r.id AND r.title LIKE 'bsearch %%'
            """
        )
        cursor.execute("CREATE INDEX chat_message_search ON chat_message USING gin (search)")
        cursor.execute("ANALYZE chat_message")
        print(
            f"seeded {messages:,} messages in {rooms:,} rooms in {time.monotonic() - started:.0f} s"
        )
    return searcher.pk


async def timed(searcher: int, queries: list[str]) -> tuple[list[float], list[int]]:
    from chatapp.chat import message_sql

    times, counts = [], []
    for text in queries:
        started = time.perf_counter()
        found, _ = await message_sql.search(
            user_id=searcher, text=text, room_id=None, before_id=None, limit=20
        )
        times.append((time.perf_counter() - started) * 1000)
        counts.append(len(found))
    return times, counts


async def run(args: argparse.Namespace, searcher: int) -> None:
    from chatapp.chat import sql

    vocabulary = words()
    rng = random.Random(11)  # noqa: S311 - reproducible queries, not a secret
    pool = await sql.pool()
    bodies = [
        r["body"]
        for r in await pool.fetch(
            "SELECT body FROM chat_message m JOIN chat_membership c ON c.room_id = m.room_id "
            "AND c.user_id = $1 ORDER BY random() LIMIT $2",
            searcher,
            args.queries,
        )
    ]
    phrases = []
    for body in bodies:
        parts = body.split()
        at = rng.randrange(len(parts) - 1) if len(parts) > 1 else 0
        phrases.append(f'"{" ".join(parts[at : at + 2])}"')
    kinds = {
        "common word": [rng.choice(vocabulary[:10]) for _ in range(args.queries)],
        "rare word": [rng.choice(vocabulary[-1000:]) for _ in range(args.queries)],
        "phrase": phrases,
    }
    await timed(searcher, kinds["common word"][:5])  # warm the caches
    for kind, queries in kinds.items():
        times, counts = await timed(searcher, queries)
        print(
            f"{kind:12} p50 {percentile(times, 0.5):7.1f} ms  p99 {percentile(times, 0.99):7.1f} ms"
            f"  ({len(queries)} queries, median {statistics.median(counts):.0f} results)"
        )
    size = await pool.fetchval("SELECT pg_relation_size('chat_message_search')")
    table = await pool.fetchval("SELECT pg_total_relation_size('chat_message')")
    index_mib, table_mib = size / 2**20, table / 2**20
    print(f"search index {index_mib:,.0f} MiB; messages table with indexes {table_mib:,.0f} MiB")
    await sql.close_pool()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--rooms", type=int, default=1000)
    parser.add_argument("--readable", type=int, default=50)
    parser.add_argument("--queries", type=int, default=40)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    searcher = seed(args.messages, args.rooms, args.readable)
    asyncio.run(run(args, searcher))


if __name__ == "__main__":
    main()
