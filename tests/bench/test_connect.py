"""The connect storm's pure parts: which failures are retried, the backoff, the
figures from the client processes' reports, and the verdicts."""

from __future__ import annotations

import array
from typing import Any

import pytest
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidMessage, InvalidStatus
from websockets.frames import Close
from websockets.http11 import Response

from chatapp.bench.connect import Connect, summarize
from chatapp.bench.report import size_report
from chatapp.bench.storm import BACKOFF_FIRST, backoff_delay, refusal
from chatapp.bench.wsclient import ProtocolError


def _status(code: int) -> InvalidStatus:
    return InvalidStatus(Response(code, "", Headers()))


def _closed(code: int | None) -> ConnectionClosed:
    return ConnectionClosed(None if code is None else Close(code, ""), None)


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (ConnectionRefusedError(), "connection refused"),
        (ConnectionResetError(), "connection reset"),
        (_status(503), "HTTP 503"),
        (_status(429), "HTTP 429"),
        (_closed(1012), "closed 1012 before subscribed"),
        (_closed(1013), "closed 1013 before subscribed"),
        (_closed(None), "closed 1006 before subscribed"),
        (InvalidMessage("no response"), "dropped during the handshake"),
        (TimeoutError(110, "Connection timed out"), "TCP: Connection timed out"),
    ],
)
def test_a_connect_the_server_did_not_take_is_retried(exc: BaseException, reason: str) -> None:
    assert refusal(exc) == reason


@pytest.mark.parametrize(
    "exc",
    [
        _status(403),  # a foreign Origin
        _status(404),
        _closed(4401),  # not logged in
        _closed(4403),
        _closed(1000),
        ProtocolError("the first frame is 'error', not hello"),
        ValueError("bad JSON"),
    ],
)
def test_an_answer_that_says_no_is_a_failure_at_once(exc: BaseException) -> None:
    assert refusal(exc) is None


def test_backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half() -> None:
    assert backoff_delay(0, 2.0, 0.0) == pytest.approx(BACKOFF_FIRST / 2)
    assert backoff_delay(0, 2.0, 1.0) == pytest.approx(BACKOFF_FIRST)
    assert backoff_delay(3, 2.0, 1.0) == pytest.approx(BACKOFF_FIRST * 8)
    assert backoff_delay(30, 2.0, 1.0) == pytest.approx(2.0)  # capped, however many tries
    assert backoff_delay(30, 2.0, 0.0) == pytest.approx(1.0)
    ceilings = [backoff_delay(attempt, 2.0, 1.0) for attempt in range(12)]
    assert ceilings == sorted(ceilings)


def _doubles(*values: float) -> bytes:
    return array.array("d", values).tobytes()


def _process(
    *,
    latency: tuple[float, ...],
    first: float,
    last: float,
    failed: int = 0,
    refused: int = 0,
    retried: int = 0,
    tcp: tuple[float, ...] | None = None,
) -> dict[str, Any]:
    tcp = tcp or tuple(0.001 for _ in latency)
    return {
        "sockets": len(latency) + failed,
        "subscribed": len(latency),
        "failed": failed,
        "failures": {"InvalidStatus: HTTP 403": failed} if failed else {},
        "refused": refused,
        "refusals": {"connection refused": refused} if refused else {},
        "retried": retried,
        "first_attempt": first,
        "last_subscribed": last,
        "latency": _doubles(*latency),
        "tcp": _doubles(*tcp),
        "hello": _doubles(*(0.01 for _ in latency)),
        "subscribe": _doubles(*(0.002 for _ in latency)),
        "cpu_s": 0.5,
        "wall_s": 2.0,
    }


def test_summarize_merges_the_processes_of_one_storm() -> None:
    results = [
        _process(latency=(0.1, 0.2, 0.3), first=1000.0, last=1001.0, refused=2, retried=1),
        _process(latency=(0.4, 1.5), first=1000.5, last=1002.0, tcp=(0.001, 1.2)),
    ]
    closed = [{"frames": {"presence": 3}, "closes": {}}, {"frames": {"presence": 2}, "closes": {}}]
    summary = summarize("chatapp", results, closed, rss_before=1000, rss_after=1500)
    assert summary["subscribed"] == 5
    assert summary["failed"] == 0
    # From the first connect of any process to the last subscribed of any.
    assert summary["storm_s"] == 2.0
    assert summary["connects_per_s"] == 2.5
    assert summary["latency_p50_ms"] == 300.0
    assert summary["latency_max_ms"] == 1500.0
    assert summary["tcp_p99_ms"] == 1200.0
    assert summary["refused"] == 2
    assert summary["retried"] == 1
    assert summary["rss_per_socket_kib"] == 100.0
    assert summary["idle_frames"] == {"presence": 5}


def test_summarize_counts_failures_and_survives_a_storm_where_nothing_got_in() -> None:
    summary = summarize(
        "chatapp", [_process(latency=(), first=5.0, last=0.0, failed=3)], [], None, None
    )
    assert summary["failed"] == 3
    assert summary["subscribed"] == 0
    assert summary["connects_per_s"] is None
    assert summary["latency_p99_ms"] is None
    assert summary["rss_per_socket_kib"] is None
    assert summary["failures"] == {"InvalidStatus: HTTP 403": 3}


def _connect_size(ours: dict[str, Any]) -> dict[str, Any]:
    floor = summarize("floor", [_process(latency=(0.01,), first=0.0, last=0.5)], [], 10, 30)
    size = size_report(1, [{"chatapp": ours, "floor": floor}], [], Connect.metrics)
    Connect().judge(size, {})
    return size


def test_judge_holds_when_every_socket_got_in_and_notes_refusals() -> None:
    ours = summarize(
        "chatapp",
        [_process(latency=(0.1,), first=0.0, last=1.0, refused=4, retried=1)],
        [],
        1000,
        1040,
    )
    ours["listen_overflows"] = 12
    size = _connect_size(ours)
    assert size["targets"] == {
        "every_socket_subscribed": True,
        "rss_per_socket_at_most_60_kib": True,
    }
    assert any("did not take 4 attempts" in note for note in size["notes"])
    assert any("listen queue overflowed 12 times" in note for note in size["notes"])


def test_judge_fails_a_run_with_a_failed_socket_or_fat_sockets() -> None:
    ours = summarize(
        "chatapp", [_process(latency=(0.1,), first=0.0, last=1.0, failed=1)], [], 1000, 1100
    )
    size = _connect_size(ours)
    assert size["targets"] == {
        "every_socket_subscribed": False,
        "rss_per_socket_at_most_60_kib": False,
    }
