"""``python -m chatapp.bench.layer``: one short round on the real Redis."""

from __future__ import annotations

from chatapp.bench import layer as bench


async def test_every_worker_channel_gets_every_group_send(redis_url: str) -> None:
    from channels_redis.core import RedisChannelLayer

    layer = RedisChannelLayer(hosts=[redis_url], prefix="bench-layer-test", capacity=100_000)
    channels = [await layer.new_channel() for _ in range(3)]
    for channel in channels:
        await layer.group_add("room.bench", channel)
    result = await bench.one_round(layer, channels, senders=4, seconds=0.5)
    await layer.flush()
    assert result["sent"] > 0
    assert result["received_least"] == result["received_most"] == result["sent"]
    assert 0.5 * result["sent"] <= result["group_sends_per_s"] <= 2.5 * result["sent"]
