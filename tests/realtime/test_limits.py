from __future__ import annotations

from unittest import mock

from chatapp.realtime.limits import TokenBucket


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    now = [100.0]
    with mock.patch("chatapp.realtime.limits.time.monotonic", side_effect=lambda: now[0]):
        bucket = TokenBucket(rate=5, burst=20)
        assert [bucket.take() for _ in range(21)] == [True] * 20 + [False]
        now[0] += 0.2  # one token back
        assert [bucket.take(), bucket.take()] == [True, False]
        now[0] += 60  # never more than the burst
        assert sum(bucket.take() for _ in range(30)) == 20
