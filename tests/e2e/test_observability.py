"""/metrics and the logs of a real `chatapp serve --workers 2`: the figures of
both workers in every scrape, whichever worker answers it; a worker killed
stops counting its sockets; the allow-list holds behind a proxy; the log is
one JSON object a line, with request ids, and never a secret."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

from chatapp.bench.wsclient import handshake_headers, ws_url
from tests.e2e.client import PASSWORD, Tab, register
from tests.e2e.server import Server, base_env, start_server, stop

pytestmark = pytest.mark.e2e

MESSAGE_BODY = "a message body that no log line may hold " + uuid.uuid4().hex
LABELS_ALLOWED = {"code", "type", "status", "le"}


@pytest.fixture(scope="module")
def metrics_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("metrics")
    (path / "gauge_livesum_1.db").write_bytes(b"left by an earlier run")
    return path


@pytest.fixture(scope="module")
def two_workers(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory, metrics_dir: Path
) -> Iterator[Server]:
    redis_url = os.environ.get("REDIS_URL", "")
    if not redis_url:
        pytest.skip("REDIS_URL is not set (CI always sets it)")
    logs = tmp_path_factory.mktemp("logs")
    env = base_env(
        DATABASE_URL=module_database_url,
        REDIS_URL=redis_url,
        SECRET_KEY="e2e-" + uuid.uuid4().hex * 2,
        CHATAPP_DATA_DIR=str(logs / "data"),
        # Named here so the test can tell the workers' files apart.
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        LOG_FORMAT="json",
        CHAT_SEND_BURST="1000",
        MAX_SOCKETS_PER_USER="100",
    )
    server = start_server(
        env=env, log_path=logs / "serve.log", args=("--migrate", "--workers", "2")
    )
    try:
        yield server
    finally:
        stop(server.process)


def scrape(base: str, **headers: str) -> httpx.Response:
    return httpx.get(f"{base}/metrics", headers=headers, timeout=10)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, by name and labels (parsed by prometheus-client)."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(text: str, name: str, **labels: str) -> float:
    return samples(text)[(name, tuple(sorted(labels.items())))]


def per_worker(metrics_dir: Path, prefix: str, name: str) -> dict[int, float]:
    """A sample's value in each process's file, read as the collector reads them."""
    found: dict[int, float] = {}
    for path in metrics_dir.glob(f"{prefix}_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        for key, sample_value, _timestamp, _pos in MmapedDict.read_all_values_from_file(str(path)):
            if json.loads(key)[1] == name:
                found[pid] = found.get(pid, 0.0) + sample_value
    return found


def log_lines(server: Server) -> list[dict[str, Any]]:
    """The server's JSON log lines (its other output, such as collectstatic's, is not logging)."""
    assert server.log_path is not None
    text = server.log_path.read_text()
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def wait_for(check: Any, what: str, limit: float = 15.0) -> Any:
    deadline = time.monotonic() + limit
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


async def test_metrics_sum_both_workers_and_forget_a_killed_one(
    two_workers: Server, metrics_dir: Path
) -> None:
    base = two_workers.base
    assert not (metrics_dir / "gauge_livesum_1.db").exists(), "an earlier run's file was kept"
    names = [f"obs_{uuid.uuid4().hex[:8]}" for _ in range(3)]
    sessions = [await register(base, name) for name in names]
    tabs: list[Tab] = []
    try:
        # Sockets until each worker holds some (the kernel spreads the connects).
        lobby = 0
        while (
            len(
                [
                    v
                    for v in per_worker(
                        metrics_dir, "gauge_livesum", "chatapp_ws_connections"
                    ).values()
                    if v
                ]
            )
            < 2
        ):
            assert len(tabs) < 60, "every socket went to one worker"
            tab = await Tab.open(base, sessions[len(tabs) % len(sessions)])
            lobby = tab.lobby or 0
            await tab.subscribe(lobby)
            tabs.append(tab)
        held = {
            pid: count
            for pid, count in per_worker(
                metrics_dir, "gauge_livesum", "chatapp_ws_connections"
            ).items()
            if count
        }
        assert sum(held.values()) == len(tabs)

        for index, tab in enumerate(tabs):
            body = f"{MESSAGE_BODY} {index}"
            await tab.send({"type": "send", "room": lobby, "body": body, "client_id": f"c{index}"})
        for tab in tabs:  # every tab has its ack and every message
            acked, seqs = False, set()
            while not acked or len(seqs) < len(tabs):
                frame = await tab.recv()
                acked = acked or frame["type"] == "ack"
                if frame["type"] == "message":
                    seqs.add(frame["message"]["seq"])
        stored = per_worker(metrics_dir, "counter", "chatapp_messages_stored_total")
        assert {pid for pid, count in stored.items() if count} == set(held)

        # Each worker answers with the sum of both, whichever one a scrape reaches.
        answered_by: set[int] = set()
        for attempt in range(60):
            request_id = f"scrape-{attempt}-{uuid.uuid4().hex[:8]}"
            answer = scrape(base, **{"X-Request-ID": request_id})
            assert answer.status_code == 200
            assert answer.headers["x-request-id"] == request_id
            text = answer.text
            assert value(text, "chatapp_ws_connections") == len(tabs)
            assert value(text, "chatapp_ws_subscriptions") == len(tabs)
            assert value(text, "chatapp_ws_connects_total") == len(tabs)
            assert value(text, "chatapp_messages_stored_total") == len(tabs)
            assert value(text, "chatapp_deliveries_total") == len(tabs) ** 2
            assert value(text, "chatapp_ws_frames_in_total", type="send") == len(tabs)
            assert value(text, "chatapp_ws_frames_in_total", type="subscribe") == len(tabs)
            assert value(text, "chatapp_send_ack_seconds_count") == len(tabs)
            assert value(text, "chatapp_layer_down") == 0
            assert value(text, "chatapp_http_requests_total", status="200") >= 1
            [line] = wait_for(
                lambda rid=request_id: [
                    line for line in log_lines(two_workers) if line.get("request_id") == rid
                ],
                "no log line for the scrape",
            )
            answered_by.add(line["pid"])
            if answered_by == set(held):
                break
        assert answered_by == set(held), "one worker answered every scrape"

        # Nothing a user typed or is called, nor a session, in any label.
        text = scrape(base).text
        for name in names:
            assert name not in text
        assert MESSAGE_BODY not in text
        assert not any(session in text for session in sessions)
        for family in text_string_to_metric_families(text):
            if family.name.startswith("chatapp_"):
                for sample in family.samples:
                    assert set(sample.labels) <= LABELS_ALLOWED, sample

        # A worker killed outright stops counting its sockets; its totals stay.
        victim, survivor = sorted(held)
        os.kill(victim, signal.SIGKILL)
        wait_for(
            lambda: value(scrape(base).text, "chatapp_ws_connections") == held[survivor],
            "the killed worker's sockets are still counted",
        )
        text = scrape(base).text
        assert value(text, "chatapp_messages_stored_total") == len(tabs)
        assert value(text, "chatapp_ws_subscriptions") == held[survivor]
    finally:
        for tab in tabs:
            await tab.close()
    wait_for(
        lambda: value(scrape(base).text, "chatapp_ws_connections") == 0,
        "closed sockets are still counted",
    )
    closed = wait_for(
        lambda: [line for line in log_lines(two_workers) if line.get("event") == "socket_closed"],
        "no socket_closed line",
    )
    for line in closed:
        assert {"user_id", "close_code", "duration_s", "frames_in", "frames_out"} <= set(line)
        assert line["logger"] == "chatapp.ws" and len(line["request_id"]) == 32
        assert line["frames_in"] >= 2 and line["frames_out"] >= 3  # subscribe, send; hello…
        assert line["close_code"] == 1000  # closed by the client


def test_metrics_refuse_a_client_forwarded_by_a_trusted_proxy(two_workers: Server) -> None:
    """nginx on the same host connects from 127.0.0.1: the client it names counts."""
    assert scrape(two_workers.base).status_code == 200
    outside = scrape(two_workers.base, **{"X-Forwarded-For": "203.0.113.9"})
    assert outside.status_code == 403
    assert "chatapp_" not in outside.text
    # A client who puts loopback first is still the address nginx appends.
    spoofed = scrape(two_workers.base, **{"X-Forwarded-For": "127.0.0.1, 203.0.113.9"})
    assert spoofed.status_code == 403


def test_metrics_answer_only_the_networks_of_the_setting(
    e2e_database_url: str, tmp_path: Path
) -> None:
    env = base_env(
        DATABASE_URL=e2e_database_url,
        SECRET_KEY="e2e-" + uuid.uuid4().hex * 2,
        CHATAPP_DATA_DIR=str(tmp_path / "data"),
        METRICS_ALLOWED_NETWORKS="203.0.113.0/24, 2001:db8::/32",
    )
    server = start_server(env=env, log_path=tmp_path / "serve.log", args=("--migrate",))
    try:
        assert scrape(server.base).status_code == 403  # loopback is not in the list
        allowed = scrape(server.base, **{"X-Forwarded-For": "203.0.113.9"})
        assert allowed.status_code == 200
        assert "chatapp_ws_connections" in allowed.text  # one worker: still served
        assert scrape(server.base, **{"X-Forwarded-For": "198.51.100.7"}).status_code == 403
    finally:
        stop(server.process)


async def test_log_lines_are_json_with_request_ids_and_no_secret(two_workers: Server) -> None:
    base = two_workers.base
    name = f"obs_{uuid.uuid4().hex[:8]}"
    session = await register(base, name)
    async with httpx.AsyncClient(base_url=base) as http:
        csrf = (await http.get("/api/csrf")).json()["csrf_token"]
        login = await http.post(
            "/api/auth/login",
            json={"login": name, "password": PASSWORD},
            headers={"X-CSRFToken": csrf, "X-Request-ID": "login-1"},
        )
        assert login.status_code == 200 and login.headers["x-request-id"] == "login-1"
        csrf = (await http.get("/api/csrf")).json()["csrf_token"]  # a new one after login
        token_answer = await http.post(
            "/api/tokens", json={"name": "bot"}, headers={"X-CSRFToken": csrf}
        )
        api_token = token_answer.json()["token"]
        me = await http.get(
            "/api/me?password=query-secret-value&q=x",
            headers={"Authorization": f"Bearer {api_token}", "X-Request-ID": "me-1"},
        )
        assert me.status_code == 200
        # An id that is too long, or could forge a log line, is replaced by a new one.
        for bad in ("x" * 129, 'a"b', "a b", "id\u00e9"):
            answer = await http.get("/healthz", headers={"X-Request-ID": bad.encode()})
            replaced = answer.headers["x-request-id"]
            assert replaced != bad and len(replaced) == 32 and int(replaced, 16) >= 0
        # A password reset link carries its secret in the path.
        reset = await http.get("/accounts/password/reset/MQ/reset-secret-value/")
        assert reset.status_code in {200, 302}
        # A path no route knows: logged as it came (bounded, printable).
        assert (await http.get("/no/such/page%0Aforged")).status_code == 404

    from websockets.asyncio.client import connect

    headers = {**handshake_headers(base, session), "X-Request-ID": "socket-1"}
    async with connect(ws_url(base), additional_headers=headers) as ws:
        assert ws.response is not None and ws.response.headers["x-request-id"] == "socket-1"
        hello = json.loads(await ws.recv())
        lobby = hello["rooms"][0]["id"]
        send = {"type": "send", "room": lobby, "body": MESSAGE_BODY, "client_id": "log-1"}
        await ws.send(json.dumps(send))
        while json.loads(await ws.recv())["type"] != "ack":
            pass

    def socket_line() -> list[dict[str, Any]]:
        lines = log_lines(two_workers)
        return [
            line
            for line in lines
            if line.get("event") == "socket_closed" and line.get("request_id") == "socket-1"
        ]

    [closed] = wait_for(socket_line, "no line for the socket")
    assert closed["event"] == "socket_closed" and closed["frames_in"] == 1
    assert closed["frames_out"] == 2 and closed["close_code"] == 1000  # hello, ack
    assert isinstance(closed["user_id"], int) and closed["duration_s"] >= 0

    lines = log_lines(two_workers)
    # uvicorn's own line per handshake (with the query string) is left out.
    assert not [line for line in lines if "WebSocket /ws/" in line["message"]]
    for line in lines:
        assert {"time", "level", "logger", "pid", "message"} <= set(line), line
    requests = [line for line in lines if line.get("event") == "http_request"]
    by_id = {line["request_id"]: line for line in requests}
    assert by_id["login-1"]["path"] == "/api/auth/login"
    assert by_id["login-1"]["method"] == "POST" and by_id["login-1"]["status"] == 200
    assert by_id["me-1"]["path"] == "/api/me" and by_id["me-1"]["duration_ms"] > 0
    assert any(line["path"] == "/accounts/password/reset/<uidb64>/<token>/" for line in requests)
    assert any(line["path"] == "/no/such/page?forged" for line in requests)

    text = two_workers.log_path.read_text()  # type: ignore[union-attr]
    for secret in (session, api_token, PASSWORD, "query-secret-value", "reset-secret-value", csrf):
        assert secret not in text
    assert MESSAGE_BODY not in text
    assert "sessionid" not in text


def test_a_running_server_answers_head_and_refuses_other_methods(two_workers: Server) -> None:
    assert httpx.head(f"{two_workers.base}/metrics").status_code == 200
    post = httpx.post(f"{two_workers.base}/metrics")
    assert post.status_code == 405 and post.headers["allow"] == "GET, HEAD"
