"""Metrics and logs in one process: the /metrics allow-list behind uvicorn's
proxy-header resolution, the worker folder of `chatapp serve`, the fan-out's
batched counting, request ids, and the JSON log line."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from chatapp.core import access, exposition, metrics, metrics_dir
from chatapp.core.logs import REQUEST_ID, WithRequestId, json_formatter, request_id_of
from chatapp.realtime.hub import Hub

# --- /metrics ----------------------------------------------------------------------


async def get_metrics(client: tuple[str, int], **headers: str) -> httpx.Response:
    """/metrics through uvicorn's own proxy-header resolution, trusting 127.0.0.1
    as `chatapp serve` does by default (FORWARDED_ALLOW_IPS)."""
    app = ProxyHeadersMiddleware(exposition.metrics, trusted_hosts="127.0.0.1")  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app, client=client)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        return await http.get("/metrics", headers=headers)


@pytest.mark.parametrize(
    ("peer", "forwarded", "status"),
    [
        ("127.0.0.1", None, 200),
        ("127.0.0.9", None, 200),  # all of 127.0.0.0/8
        ("::1", None, 200),
        ("::ffff:127.0.0.1", None, 200),  # IPv4 written as IPv6
        ("192.0.2.1", None, 403),
        # nginx on the same host: the peer is loopback, the client is outside.
        ("127.0.0.1", "203.0.113.9", 403),
        ("127.0.0.1", "127.0.0.1, 203.0.113.9", 403),  # a client's own header comes first
        # A peer that is not a trusted proxy cannot claim to be loopback.
        ("192.0.2.1", "127.0.0.1", 403),
        ("127.0.0.1", "not an address", 403),
    ],
)
async def test_metrics_answer_the_resolved_client_only(
    monkeypatch: pytest.MonkeyPatch, peer: str, forwarded: str | None, status: int
) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    answer = await get_metrics((peer, 4000), **headers)
    assert answer.status_code == status
    assert ("chatapp_ws_connections" in answer.text) is (status == 200)


async def test_the_setting_names_the_networks(settings, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import ipaddress

    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("203.0.113.0/24")]
    assert (await get_metrics(("127.0.0.1", 1))).status_code == 403
    assert (
        await get_metrics(("127.0.0.1", 1), **{"X-Forwarded-For": "203.0.113.7"})
    ).status_code == 200


async def test_one_process_without_a_folder_serves_its_own_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No PROMETHEUS_MULTIPROC_DIR (one process under plain uvicorn, the tests):
    the values in memory, with the process's own collectors."""
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    before = REGISTRY.get_sample_value("chatapp_messages_stored_total") or 0
    metrics.MESSAGES_STORED.inc()
    answer = await get_metrics(("127.0.0.1", 1), Accept="text/plain")
    assert answer.headers["content-type"].startswith("text/plain")
    found = {
        sample.name: sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }
    assert found["chatapp_messages_stored_total"] == before + 1
    assert "process_cpu_seconds_total" in found


def test_every_family_of_the_protocol_is_defined() -> None:
    """PROTOCOL.md "Operations" names these; the dashboard and the docs use them."""
    exported = {
        family.name + ("_total" if family.type == "counter" else "")
        for family in REGISTRY.collect()
    }
    for name in (
        "chatapp_ws_connections",
        "chatapp_ws_subscriptions",
        "chatapp_ws_connects_total",
        "chatapp_ws_disconnects_total",
        "chatapp_ws_frames_in_total",
        "chatapp_ws_frames_out_total",
        "chatapp_deliveries_total",
        "chatapp_resumes_total",
        "chatapp_gap_fills_total",
        "chatapp_messages_stored_total",
        "chatapp_send_ack_seconds",
        "chatapp_outbox_overflows_total",
        "chatapp_layer_errors_total",
        "chatapp_http_requests_total",
        "chatapp_http_request_seconds",
    ):
        assert name in exported, name


def label_values(sample_name: str, label: str) -> set[str]:
    return {
        sample.labels[label]
        for family in REGISTRY.collect()
        for sample in family.samples
        if sample.name == sample_name
    }


def test_labels_take_values_from_closed_sets_only() -> None:
    def other() -> float:
        found = REGISTRY.get_sample_value("chatapp_ws_disconnects_total", {"code": "other"})
        return found or 0

    before = other()
    metrics.disconnected(4999)  # a code a client picked
    metrics.disconnected(3000)
    assert other() == before + 2
    metrics.frame_in(None)
    metrics.http_answered(999, 0.01)
    codes = label_values("chatapp_ws_disconnects_total", "code")
    assert codes == {str(code) for code in metrics.CLOSE_CODES} | {"other"}
    types = label_values("chatapp_ws_frames_in_total", "type")
    assert types == {
        *("subscribe", "unsubscribe", "send", "history", "typing", "read", "ping"),
        *("edit", "delete", "react"),
        *("invalid", "over_limit"),
    }
    statuses = label_values("chatapp_http_requests_total", "status")
    assert "other" in statuses and all(s.isdigit() or s == "other" for s in statuses)


# --- the fan-out counts once per message --------------------------------------------


class CountingCounter:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def inc(self, amount: float = 1) -> None:
        self.calls.append(amount)


class FakeSocket:
    def __init__(self, user_id: int, takes: bool) -> None:
        self.user_id = user_id
        self.socket_id = ""
        self.takes = takes

    def room_frame(self, room_id: int, seq: int | None, text: str) -> bool:
        return self.takes


async def test_the_fan_out_adds_its_deliveries_once_per_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from channels.layers import InMemoryChannelLayer

    deliveries, frames_out = CountingCounter(), CountingCounter()
    monkeypatch.setattr(metrics, "DELIVERIES", deliveries)
    monkeypatch.setattr(metrics, "WS_FRAMES_OUT", frames_out)
    hub = Hub(InMemoryChannelLayer())
    # Five sockets take the frame, one is its sender (skipped), one has it already.
    hub.rooms[7] = {FakeSocket(n, True) for n in range(5)} | {
        FakeSocket(99, True),
        FakeSocket(6, False),
    }  # type: ignore[arg-type]
    hub.dispatch_room(7, (0, 1, 0), "{}", skip_user=99)
    assert deliveries.calls == [5] and frames_out.calls == [5]
    hub.dispatch_room(7, None, "{}", skip_user=None)  # presence: a frame, not a delivery
    assert deliveries.calls == [5] and frames_out.calls == [5, 6]
    await hub.close()


# --- the folder of `chatapp serve` ------------------------------------------------------

WORKER = """
import os
from prometheus_client import Counter, Gauge
Gauge("chatapp_test_open", "open", multiprocess_mode="livesum").inc(3)
Counter("chatapp_test_done", "done").inc(2)
"""


def test_prepare_empties_the_folder_it_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "counter_123.db").write_bytes(b"old")
    (tmp_path / "keep.txt").write_text("not ours")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    assert metrics_dir.prepare() == tmp_path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_prepare_makes_a_folder_when_none_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    path = metrics_dir.prepare()
    try:
        assert path.is_dir() and not list(path.iterdir())
        assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(path)
    finally:
        path.rmdir()
        monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")


def test_a_dead_worker_stops_counting_in_gauges_but_not_in_totals(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    worker = subprocess.run([sys.executable, "-c", WORKER], env=env, check=True)
    assert worker.returncode == 0
    from prometheus_client import CollectorRegistry, multiprocess

    def collected() -> dict[str, float]:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(tmp_path))
        return {s.name: s.value for f in registry.collect() for s in f.samples}

    assert collected()["chatapp_test_open"] == 3  # its file outlives it
    assert metrics_dir.dead_workers(tmp_path)
    assert metrics_dir.forget_dead_workers(tmp_path)
    after = collected()
    assert "chatapp_test_open" not in after
    assert after["chatapp_test_done_total"] == 2
    # This process (alive) is never taken for dead.
    (tmp_path / f"gauge_livesum_{os.getpid()}.db").write_bytes(b"")
    assert os.getpid() not in metrics_dir.dead_workers(tmp_path)


# --- request ids and log lines -----------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        (b"4bf92f3577b34da6a3ce929d0e0e4736", True),
        (b"req-1.2_3:4", True),
        (b"x" * 128, True),
        (b"x" * 129, False),
        (b"a b", False),
        (b'a"b', False),
        (b"a\nb", False),
        (b"\xc3\xa9", False),
        (b"", False),
    ],
)
def test_a_request_id_is_kept_only_when_safe(given: bytes, kept: bool) -> None:
    found = request_id_of([(b"x-request-id", given)])
    if kept:
        assert found == given.decode()
    else:
        assert len(found) == 32 and int(found, 16) >= 0


def test_a_request_without_an_id_gets_a_new_one_each_time() -> None:
    assert request_id_of([]) != request_id_of([])


def test_a_json_line_has_the_fields_and_the_request_id() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    handler.addFilter(WithRequestId())
    logger = logging.getLogger("chatapp.test_json")
    logger.addHandler(handler)
    logger.propagate = False
    token = REQUEST_ID.set("req-42")
    try:
        logger.warning("GET %s 200", "/x", extra={"status": 200, "color_message": "\x1b[1m"})
    finally:
        REQUEST_ID.reset(token)
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert line["message"] == "GET /x 200" and line["status"] == 200
    assert line["request_id"] == "req-42" and line["level"] == "WARNING"
    assert line["logger"] == "chatapp.test_json" and line["pid"] == os.getpid()
    assert line["time"].endswith("+00:00")
    assert "color_message" not in line


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("/api/me", "/api/me"),
        (
            "/accounts/password/reset/MQ/c3f-1a2b3c4d5e6f/",
            "/accounts/password/reset/<uidb64>/<token>/",
        ),
        ("/accounts/email/confirm/abc123secret/", "/accounts/email/confirm/<token>/"),
        ("/accounts/password/reset/sent/", "/accounts/password/reset/sent/"),
        ("/no/such\npage", "/no/such?page"),
        ("/" + "a" * 400, "/" + "a" * 299 + "..."),
    ],
)
def test_a_logged_path_holds_no_secret(path: str, shown: str) -> None:
    assert access.loggable_path(path) == shown
