"""Micro-benchmark of the wire codec: a ``message`` frame and a ``hello`` frame
encoded by msgspec (``chatapp.wire``) against the ``json.dumps`` of dicts the
server used before, built from the same rows each time, as the server does.

    python -m chatapp.bench.codec [--rooms 20] [--repeat 7]

Prints the median time per frame of each way, in microseconds. Needs no
database and no settings: avatars are plain file names here.
"""

from __future__ import annotations

import argparse
import json
import statistics
import timeit
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from chatapp import wire

CREATED = datetime(2026, 5, 9, 7, 35, 25, 123456, tzinfo=UTC)
BODY = "Hello everyone, this is a message of ordinary length, with an é and a 🙂 in it."


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _user_dict(n: int) -> dict[str, Any]:
    return {"id": n, "username": f"user{n}", "avatar": f"/media/avatars/user{n}.webp"}


def message_dumps() -> str:
    message = {
        "id": 123456,
        "room": 1,
        "seq": 98765,
        "author": _user_dict(42),
        "body": BODY,
        "created_at": _iso(CREATED),
        "client_id": "4f1c2a9e8b7d4c3a9f0e1d2c3b4a5968",
    }
    frame = {"type": "message", "message": message}
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def _user(n: int) -> wire.User:
    return wire.User(id=n, username=f"user{n}", avatar=f"/media/avatars/user{n}.webp")


def message_msgspec() -> str:
    message = wire.Message(
        id=123456,
        room=1,
        seq=98765,
        author=_user(42),
        body=BODY,
        created_at=_iso(CREATED),
        client_id="4f1c2a9e8b7d4c3a9f0e1d2c3b4a5968",
    )
    return wire.encode_text(wire.MessageFrame(message=message))


def hello_dumps(rooms: int) -> str:
    return json.dumps(hello_dict(rooms), separators=(",", ":"), ensure_ascii=False)


def hello_dict(rooms: int) -> dict[str, Any]:
    shapes = [
        {
            "id": n,
            "kind": "private" if n else "public",
            "title": f"user{n}" if n else "Lobby",
            "peer": _user_dict(n) if n else None,
            "unread": n % 7,
            "last_seq": n * 100,
            "last_message": {"author": f"user{n}", "body": BODY, "created_at": _iso(CREATED)},
        }
        for n in range(rooms)
    ]
    return {"type": "hello", "user": _user_dict(1), "rooms": shapes, "notifications_unread": 3}


def hello_msgspec(rooms: int) -> str:
    return wire.encode_text(hello_struct(rooms))


def hello_struct(rooms: int) -> wire.HelloFrame:
    shapes = [
        wire.Room(
            id=n,
            kind="private" if n else "public",
            title=f"user{n}" if n else "Lobby",
            peer=_user(n) if n else None,
            unread=n % 7,
            last_seq=n * 100,
            last_message=wire.LastMessage(author=f"user{n}", body=BODY, created_at=_iso(CREATED)),
        )
        for n in range(rooms)
    ]
    return wire.HelloFrame(user=_user(1), rooms=shapes, notifications_unread=3)


def median_us(run: Callable[[], object], repeat: int) -> float:
    timer = timeit.Timer(run)
    number, _ = timer.autorange()
    return statistics.median(t / number for t in timer.repeat(repeat, number)) * 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=20, help="rooms in the hello frame")
    parser.add_argument("--repeat", type=int, default=7, help="timing rounds (the median is shown)")
    args = parser.parse_args(argv)
    assert json.loads(message_dumps()) == json.loads(message_msgspec())  # noqa: S101
    assert json.loads(hello_dumps(args.rooms)) == json.loads(hello_msgspec(args.rooms))  # noqa: S101
    cases = [
        ("message frame, built and encoded", message_dumps, message_msgspec),
        (
            f"hello frame ({args.rooms} rooms), built and encoded",
            lambda: hello_dumps(args.rooms),
            lambda: hello_msgspec(args.rooms),
        ),
    ]
    built_dict, built_struct = hello_dict(args.rooms), hello_struct(args.rooms)
    cases.append(
        (
            f"hello frame ({args.rooms} rooms), encode only",
            lambda: json.dumps(built_dict, separators=(",", ":"), ensure_ascii=False),
            lambda: wire.encode_text(built_struct),
        )
    )
    print(f"{'frame':<44} {'json.dumps':>12} {'msgspec':>12} {'ratio':>7}")
    for name, dumps, fast in cases:
        old, new = median_us(dumps, args.repeat), median_us(fast, args.repeat)
        print(f"{name:<44} {old:>10.2f}µs {new:>10.2f}µs {old / new:>6.2f}x")


if __name__ == "__main__":
    main()
