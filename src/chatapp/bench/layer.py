"""How many room messages a second one Redis passes on: the channel layer's
``group_send`` to a room group that ``--workers`` worker channels belong to,
as each message to a room costs (one group send; Redis pushes it to every
worker that has sockets in the room), with concurrent senders.

    REDIS_URL=redis://127.0.0.1:6379/9 python -m chatapp.bench.layer
        [--workers 4] [--senders 16] [--seconds 5] [--repeat 3]

Prints group sends a second per round and the median, and the share of a
core the redis-server process used meanwhile (read from /proc when the
server runs on this machine). Each round's pushes are read back from the
worker channels, so the queues never fill. Give it a Redis database of its
own: it uses the ``bench-layer`` prefix.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from pathlib import Path
from typing import Any


def redis_cpu_seconds() -> float | None:
    """CPU seconds of every redis-server process on this machine, or None."""
    total, found = 0.0, False
    ticks = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)
            name = fields[0].split("(", 1)[1]
        except (OSError, IndexError):
            continue
        if name == "redis-server":
            found = True
            values = fields[1].split()
            total += (int(values[11]) + int(values[12])) / ticks
    return total if found else None


async def one_round(
    layer: Any, channels: list[str], senders: int, seconds: float
) -> dict[str, float]:
    sent = 0
    deadline = time.monotonic() + seconds
    event = {"type": "room.frame", "room": 1, "text": '{"type":"message"}', "order": [0, 1, 0]}

    async def sender() -> None:
        nonlocal sent
        while time.monotonic() < deadline:
            await layer.group_send("room.bench", event)
            sent += 1

    received = dict.fromkeys(channels, 0)

    async def drain(channel: str) -> None:
        while True:
            try:
                await asyncio.wait_for(layer.receive(channel), timeout=0.5)
            except TimeoutError:
                if time.monotonic() >= deadline:
                    return
            else:
                received[channel] += 1

    cpu_before = redis_cpu_seconds()
    started = time.monotonic()
    readers = [asyncio.ensure_future(drain(channel)) for channel in channels]
    await asyncio.gather(*(sender() for _ in range(senders)))
    elapsed = time.monotonic() - started
    cpu_after = redis_cpu_seconds()
    await asyncio.gather(*readers)
    busy = (cpu_after - cpu_before) / elapsed if cpu_before is not None and cpu_after else -1.0
    return {
        "group_sends_per_s": sent / elapsed,
        "redis_cores_busy": busy,
        "sent": sent,
        "received_least": min(received.values()),
        "received_most": max(received.values()),
    }


async def run(args: argparse.Namespace) -> None:
    from channels_redis.core import RedisChannelLayer

    layer = RedisChannelLayer(hosts=[args.redis], prefix="bench-layer", capacity=100_000, expiry=60)
    channels = [await layer.new_channel() for _ in range(args.workers)]
    for channel in channels:
        await layer.group_add("room.bench", channel)
    rounds = []
    for n in range(args.repeat):
        result = await one_round(layer, channels, args.senders, args.seconds)
        rounds.append(result)
        print(
            f"round {n + 1}: {result['group_sends_per_s']:,.0f} group sends/s, "
            f"redis {result['redis_cores_busy']:.2f} cores busy",
            flush=True,
        )
    for channel in channels:
        await layer.group_discard("room.bench", channel)
    await layer.flush()
    medians = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    lost = sum(r["sent"] - r["received_least"] for r in rounds)
    print(
        f"median of {len(rounds)}: {medians['group_sends_per_s']:,.0f} group sends/s "
        f"to a group of {args.workers} worker channels ({args.senders} senders), "
        f"redis {medians['redis_cores_busy']:.2f} cores busy, {lost:.0f} pushes lost"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/9"))
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--senders", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=3)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
