"""chatapp behind a real nginx, over https:// and wss:// only: the site that
``chatapp deploy nginx`` renders, in front of two ``chatapp serve`` processes
sharing a fresh database and a Redis of the test's own."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from chatapp.bench.procs import free_port
from chatapp.core.files import FILE_POLICY
from tests.e2e.client import PASSWORD, Tab
from tests.e2e.server import CHATAPP, Server, base_env, start_server, stop
from tests.faults.procs import RedisServer
from tests.proxy.nginx import Nginx, configure

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

READ_TIMEOUT = 3  # nginx's proxy_read_timeout on /ws/ in this test (seconds)
PING_INTERVAL = "1"  # the servers ping every socket this often, through nginx


class Stack:
    def __init__(self, folder: Path, env: dict[str, str], nginx: Nginx) -> None:
        self.folder = folder
        self.env = env
        self.nginx = nginx
        self.servers: dict[int, Server] = {}

    def start(self, port: int, *, migrate: bool = False) -> Server:
        args = ["--port", str(port), "--ws-ping-interval", PING_INTERVAL]
        server = start_server(
            env=self.env,
            log_path=self.folder / f"server-{port}.log",
            args=(*args, "--migrate") if migrate else args,
            port=port,
        )
        self.servers[port] = server
        return server

    def logs(self) -> str:
        return "".join(path.read_text() for path in self.folder.glob("server-*.log"))


@pytest.fixture(scope="module")
def stack(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("proxy")
    redis = RedisServer(folder / "redis")
    redis.start()
    static_root, media_root = folder / "static", folder / "media"
    media_root.mkdir()
    env = base_env(
        DATABASE_URL=module_database_url,
        REDIS_URL=redis.url,
        SECRET_KEY="proxy-" + uuid.uuid4().hex * 2,
        CHATAPP_DATA_DIR=str(folder / "data"),
        STATIC_ROOT=str(static_root),
        MEDIA_ROOT=str(media_root),
        HTTPS="true",
        ALLOWED_HOSTS="localhost,127.0.0.1",  # 127.0.0.1: the health check, direct
        DRAIN_SECONDS="3",
    )
    subprocess.run([CHATAPP, "collectstatic", "--noinput", "-v0"], env=env, check=True)
    ports = [free_port(), free_port()]
    nginx = configure(
        folder / "nginx",
        upstreams=[f"127.0.0.1:{port}" for port in ports],
        static_root=static_root,
        media_root=media_root,
        ws_read_timeout=f"{READ_TIMEOUT}s",
    )
    built = Stack(folder, env, nginx)
    try:
        built.start(ports[0], migrate=True)
        built.start(ports[1])
        nginx.start()
        yield built
    finally:
        nginx.stop()
        for server in built.servers.values():
            stop(server.process)
        redis.stop()
    assert "Traceback" not in built.logs()


def register(stack: Stack, username: str) -> str:
    """Register over https, as a browser would (CSRF cookie, Origin); the session."""
    with stack.nginx.client(headers={"Origin": stack.nginx.base}) as client:
        token = client.get("/api/csrf").json()["csrf_token"]
        body = {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
        answer = client.post("/api/auth/register", json=body, headers={"X-CSRFToken": token})
        assert answer.status_code == 201, answer.text
        assert "secure" in answer.headers["set-cookie"].lower()
        return str(client.cookies["sessionid"])


async def open_tab(stack: Stack, session: str) -> Tab:
    return await Tab.open(stack.nginx.base, session, ssl=stack.nginx.ssl_context())


async def lobby_tabs(stack: Stack, sessions: list[str]) -> list[Tab]:
    tabs = []
    for session in sessions:  # one by one: least_conn alternates the backends
        tab = await open_tab(stack, session)
        assert tab.lobby is not None
        await tab.subscribe(tab.lobby)
        tabs.append(tab)
    return tabs


# Message frames a tab read while waiting for an ack, kept for ``received``.
early: dict[int, list[tuple[int, str]]] = {}


async def send(tab: Tab, body: str) -> int:
    assert tab.lobby is not None
    client_id = uuid.uuid4().hex
    await tab.send({"type": "send", "room": tab.lobby, "body": body, "client_id": client_id})
    while True:
        frame = await tab.recv()
        if frame["type"] == "message":
            early.setdefault(id(tab), []).append(
                (frame["message"]["seq"], frame["message"]["body"])
            )
        elif frame["type"] == "ack":
            assert frame["client_id"] == client_id
            return int(frame["message"]["seq"])
        else:
            assert frame["type"] in {"presence", "typing", "unread"}, frame


async def received(tab: Tab, count: int) -> list[tuple[int, str]]:
    got = early.pop(id(tab), [])
    while len(got) < count:
        frame = await tab.recv_type("message")
        got.append((frame["message"]["seq"], frame["message"]["body"]))
    return got


def test_login_over_https(stack: Stack) -> None:
    register(stack, "lena")
    with stack.nginx.client(headers={"Origin": stack.nginx.base}) as client:
        token = client.get("/api/csrf").json()["csrf_token"]
        login = client.post(
            "/api/auth/login",
            json={"login": "lena", "password": PASSWORD},
            headers={"X-CSRFToken": token},
        )
        assert login.status_code == 200, login.text
        assert client.get("/api/me").json()["username"] == "lena"


async def test_chat_across_both_backends_over_wss(stack: Stack) -> None:
    sessions = [register(stack, name) for name in ("ana", "ben", "cyd", "dee")]
    tabs = await lobby_tabs(stack, sessions)
    try:
        seqs = [await send(tabs[0], f"hello {i}") for i in range(5)]
        for tab in tabs:
            got = await received(tab, 5)
            assert got == [(seq, f"hello {i}") for i, seq in enumerate(seqs)]
    finally:
        for tab in tabs:
            await tab.close()


def test_static_files_come_from_nginx_with_cache_headers(stack: Stack) -> None:
    with stack.nginx.client() as client:
        answer = client.get("/static/chatapp/app.css")
    assert answer.status_code == 200
    assert answer.headers["server"].startswith("nginx")
    assert "expires" in answer.headers  # nginx's `expires 1y`: the app sends none
    assert "immutable" in answer.headers["cache-control"]
    # Exactly the app's policy: an escaped quote (&#x27;none&#x27;) is no policy at all.
    assert answer.headers["content-security-policy"] == FILE_POLICY
    assert answer.text == (stack.folder / "static" / "chatapp" / "app.css").read_text()


def test_metrics_are_refused_through_nginx_and_answered_on_a_worker_port(stack: Stack) -> None:
    """nginx refuses /metrics to everyone, this host included (a scrape goes to
    each `chatapp serve` port); the worker answers a loopback scraper itself."""
    with stack.nginx.client() as client:
        for path in ("/metrics", "/metrics?name[]=chatapp_ws_connections", "/%6Detrics"):
            answer = client.get(path)
            assert answer.status_code == 403, path
            assert answer.headers["server"].startswith("nginx")
            assert "chatapp_" not in answer.text
    [server, *_] = stack.servers.values()
    direct = httpx.get(f"{server.base}/metrics")
    assert direct.status_code == 200 and "chatapp_ws_connections" in direct.text


def test_http_redirects_to_https(stack: Stack) -> None:
    answer = httpx.get(
        f"http://127.0.0.1:{stack.nginx.http_port}/chat/?x=1", headers={"Host": "localhost"}
    )
    assert answer.status_code == 301
    assert answer.headers["location"] == f"{stack.nginx.base}/chat/?x=1"


async def test_an_idle_socket_outlives_the_proxy_read_timeout(stack: Stack) -> None:
    tab = (await lobby_tabs(stack, [register(stack, "idle")]))[0]
    try:
        await asyncio.sleep(READ_TIMEOUT + 2)  # silent but for the server's pings
        seq = await send(tab, "still here")
        assert await received(tab, 1) == [(seq, "still here")]
    finally:
        await tab.close()


async def test_nginx_reload_mid_conversation_loses_nothing(stack: Stack) -> None:
    tabs = await lobby_tabs(stack, [register(stack, name) for name in ("rel1", "rel2", "rel3")])
    try:
        seqs = [await send(tabs[0], f"before {i}") for i in range(3)]
        await asyncio.to_thread(stack.nginx.reload)
        seqs += [await send(tabs[1], f"after {i}") for i in range(3)]
        bodies = [f"before {i}" for i in range(3)] + [f"after {i}" for i in range(3)]
        for tab in tabs:
            assert await received(tab, 6) == list(zip(seqs, bodies, strict=True))
        # A socket opened after the reload, by the new nginx workers, works too.
        late = (await lobby_tabs(stack, [register(stack, "rel4")]))[0]
        tabs.append(late)
        seq = await send(late, "new worker")
        assert await received(tabs[0], 1) == [(seq, "new worker")]
    finally:
        for tab in tabs:
            await tab.close()


async def test_a_frame_over_64_kib_closes_with_1009_through_nginx(stack: Stack) -> None:
    session = register(stack, "big")
    for _ in range(5):  # the close raced the client's sending: it must win every time
        tab = await open_tab(stack, session)
        with pytest.raises(ConnectionClosed) as closed:
            await tab.ws.send("x" * (100 * 1024))
            await tab.recv_type("never", timeout=10)
        assert closed.value.rcvd is not None, "no close frame reached the client"
        assert closed.value.rcvd.code == 1009


async def test_workers_draining_and_killed_behind_nginx(stack: Stack) -> None:
    session = register(stack, "drain")
    first, second = list(stack.servers)
    # SIGTERM: the worker drains for DRAIN_SECONDS, answering new sockets 503,
    # which nginx passes on to the other worker.
    stack.servers[first].process.send_signal(signal.SIGTERM)
    await asyncio.sleep(0.5)
    fresh = [await open_tab(stack, session) for _ in range(6)]
    try:
        await asyncio.sleep(4)  # past the drain: sockets on the old worker got 1012
        for tab in fresh:
            await tab.send({"type": "ping"})
            assert (await tab.recv_type("pong"))["type"] == "pong"
    finally:
        for tab in fresh:
            await tab.close()
    stack.servers[first].process.wait(timeout=30)
    stack.start(first)

    # SIGKILL of the other: nginx retries on the restarted one; no 502 for a GET.
    stack.servers[second].process.send_signal(signal.SIGKILL)
    stack.servers[second].process.wait(timeout=10)
    with stack.nginx.client() as client:
        statuses = [client.get("/api/csrf").status_code for _ in range(10)]
    assert statuses == [200] * 10
    tab = await open_tab(stack, session)
    await tab.close()
    stack.start(second)


def test_the_example_site_is_the_rendered_template() -> None:
    """deploy/nginx/chatapp.conf is the template's output for the example values."""
    example = Path(__file__).parents[2] / "deploy" / "nginx" / "chatapp.conf"
    rendered = subprocess.run(
        [
            CHATAPP, "deploy", "nginx", "--server-name", "chat.example.com",
            "--upstream", "127.0.0.1:8001", "--upstream", "127.0.0.1:8002",
            "--cert", "/etc/ssl/chatapp/fullchain.pem", "--key", "/etc/ssl/chatapp/privkey.pem",
            "--static-root", "/srv/chatapp/var/static", "--media-root", "/srv/chatapp/var/media",
        ],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert rendered == example.read_text(), "re-render deploy/nginx/chatapp.conf"


def test_without_a_media_root_the_app_serves_media_from_the_shared_bucket() -> None:
    common = [
        CHATAPP, "deploy", "nginx", "--server-name", "chat.example.com",
        "--upstream", "10.0.0.2:8001", "--cert", "/c.pem", "--key", "/k.pem",
        "--static-root", "/srv/static",
    ]  # fmt: skip

    def media_block(*extra: str) -> str:
        site = subprocess.run([*common, *extra], check=True, capture_output=True, text=True)
        return site.stdout.split("location /media/ {", 1)[1].split("}", 1)[0]

    on_disk = media_block("--media-root", "/srv/media")
    assert "alias /srv/media/;" in on_disk and "proxy_pass" not in on_disk
    shared = media_block()
    assert "proxy_pass http://chatapp;" in shared and "alias" not in shared


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--server-name", "a;b"), ("--upstream", "nowhere"), ("--cert", "relative.pem")],
)
def test_a_bad_value_names_its_flag(flag: str, value: str, tmp_path: Path) -> None:
    args: dict[str, Any] = {
        "--server-name": "chat.example.com",
        "--upstream": "127.0.0.1:8001",
        "--cert": "/c.pem",
        "--key": "/k.pem",
        "--static-root": "/s",
        "--media-root": "/m",
    }
    args[flag] = value
    command = [CHATAPP, "deploy", "nginx", *[part for item in args.items() for part in item]]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode != 0
    assert flag in result.stderr and "Traceback" not in result.stderr
