"""The fan-out's verdicts on one size."""

from __future__ import annotations

from typing import Any

from chatapp.bench.fanout import Fanout
from chatapp.bench.report import size_report


def _result(**figures: Any) -> dict[str, Any]:
    base = {
        "deliveries_per_s": 10_000.0,
        "latency_p50_ms": 10.0,
        "latency_p99_ms": 30.0,
        "latency_max_ms": 40.0,
        "lost": 0,
        "duplicates": 0,
        "seq_gaps": 0,
        "rss_per_socket_kib": 35.0,
        "server_cpu_us_per_delivery": 17.0,
    }
    return base | figures


def _judged(runs: list[dict[str, Any]], rate: float = 10.0) -> dict[str, Any]:
    size = size_report(1000, runs, [], Fanout.metrics)
    Fanout().judge(size, {"rate": rate})
    return size


def test_targets_hold_for_a_run_like_the_floor() -> None:
    size = _judged([{"chatapp": _result(), "floor": _result(latency_p99_ms=20.0)}])
    assert size["targets"] == {
        "deliveries_at_least_0.5x_floor": True,
        "p99_at_most_2x_floor": True,
        "nothing_lost": True,
        "rss_per_socket_at_most_60_kib": True,
    }
    # N x R = 10,000 a second offered and the floor delivered all of it.
    assert any("kept up with the offered load" in note for note in size["notes"])


def test_a_gap_in_any_run_fails_nothing_lost_even_when_the_median_is_clean() -> None:
    runs = [
        {"chatapp": _result(), "floor": _result()},
        {"chatapp": _result(seq_gaps=1), "floor": _result()},
        {"chatapp": _result(), "floor": _result()},
    ]
    size = _judged(runs)
    assert size["median"]["chatapp"]["seq_gaps"] == 0
    assert size["targets"]["nothing_lost"] is False


def test_slow_tail_and_fat_sockets_fail_and_no_floor_means_no_verdict() -> None:
    size = _judged(
        [{"chatapp": _result(latency_p99_ms=61.0, rss_per_socket_kib=61.0), "floor": _result()}]
    )
    assert size["targets"]["p99_at_most_2x_floor"] is False
    assert size["targets"]["rss_per_socket_at_most_60_kib"] is False
    alone = _judged([{"chatapp": _result()}])
    assert alone["targets"]["p99_at_most_2x_floor"] is None
    assert alone["targets"]["deliveries_at_least_0.5x_floor"] is None
    assert alone["notes"] == []
