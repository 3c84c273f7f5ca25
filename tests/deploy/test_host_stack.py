"""The whole stack from the files ``chatapp deploy install`` renders: its
local database made by its ``postgres.sql``, the release unit's and the worker
units' own ``ExecStart`` lines run with their ``EnvironmentFile``, two worker
ports behind the rendered nginx site and its self-signed certificate; then a
chat over https:// and wss://, and a rolling restart (one worker at a time,
each back on /readyz before the next, as ``install.sh upgrade`` does) under a
client sending all along: no message lost, none stored twice."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import httpx
import psycopg
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from chatapp.bench.procs import Server, free_port, start_process, stop_process
from tests.deploy.host import (
    NGINX_SITE,
    apply_in_place,
    install_env,
    instance_command,
    rendered,
    service_env,
    tree_file,
    unit,
    unit_values,
)
from tests.e2e.client import PASSWORD, Tab
from tests.faults.procs import RedisServer
from tests.proxy.nginx import MAIN_CONF, Nginx

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SERVER_NAMES = "localhost,127.0.0.1"  # 127.0.0.1: the health checks, straight to a worker


@dataclass
class Stack:
    out: Path
    env: dict[str, str]  # what the worker unit's command gets
    database_url: str
    ports: list[int]
    nginx: Nginx
    folder: Path
    workers: dict[int, Server] = field(default_factory=dict)

    def start_worker(self, port: int) -> None:
        (line,) = unit_values(unit(self.out, "chatapp@.service"), "ExecStart")
        (workdir,) = unit_values(unit(self.out, "chatapp@.service"), "WorkingDirectory")
        command = instance_command(line, str(port))
        assert Path(workdir).is_dir()
        self.workers[port] = start_process(
            f"chatapp@{port}",
            command,
            env=self.env,
            log_path=self.folder / f"{port}.log",
            port=port,
        )

    def logs(self) -> str:
        return "".join(path.read_text() for path in self.folder.glob("*.log"))


def admin_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        pytest.skip("DATABASE_URL is not set (CI always sets it)")
    return urlunparse(urlparse(url)._replace(scheme="postgresql", path="/postgres"))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("host")
    redis = RedisServer(folder / "redis")
    redis.start()
    role = f"chatapp_t{uuid.uuid4().hex[:10]}"
    ports = [free_port(), free_port()]
    env = install_env(
        folder,
        CHATAPP_SERVER_NAME=SERVER_NAMES,
        CHATAPP_USER=role,
        CHATAPP_PORTS=",".join(map(str, ports)),
        CHATAPP_HTTP_PORT=str(free_port()),
        CHATAPP_HTTPS_PORT=str(free_port()),
        CHATAPP_LISTEN_ADDRESS="127.0.0.1",
        REDIS_URL=redis.url,
    )
    out = rendered(env, folder / "out")
    apply_in_place(out, folder)  # the environment file, certificate and data folders
    admin = admin_url()
    psql = ["psql", "-X", "-q", "-d", admin]
    made = subprocess.run(psql, stdin=(out / "postgres.sql").open(), capture_output=True, text=True)
    assert made.returncode == 0, made.stderr

    release = unit(out, "chatapp-release.service")
    worker_env = service_env(out, unit(out, "chatapp@.service"))
    nginx_prefix = folder / "nginx"
    (nginx_prefix / "tmp").mkdir(parents=True)
    shutil.copyfile(tree_file(out, NGINX_SITE), nginx_prefix / "site.conf")
    (nginx_prefix / "nginx.conf").write_text(
        MAIN_CONF.format(
            user="user root;" if os.geteuid() == 0 else "",
            prefix=nginx_prefix,
            mime_types="/etc/nginx/mime.types",
        )
    )
    nginx = Nginx(
        nginx_prefix,
        int(env["CHATAPP_HTTP_PORT"]),
        int(env["CHATAPP_HTTPS_PORT"]),
        folder / "etc" / "tls" / "cert.pem",
    )
    built = Stack(out, worker_env, worker_env["DATABASE_URL"], ports, nginx, folder)
    try:
        # The release unit first: each ExecStart in turn, as systemd runs a oneshot.
        (workdir,) = unit_values(release, "WorkingDirectory")
        for line in unit_values(release, "ExecStart"):
            done = subprocess.run(
                line.split(), env=service_env(out, release), cwd=workdir,
                capture_output=True, text=True, timeout=300,
            )  # fmt: skip
            assert done.returncode == 0, f"{line}:\n{done.stdout}{done.stderr}"
        for port in ports:
            built.start_worker(port)
        nginx.start()
        yield built
    finally:
        nginx.stop()
        for server in built.workers.values():
            if server.process is not None:
                stop_process(server.process)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{role}" WITH (FORCE)')
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')
        redis.stop()
    assert "Traceback" not in built.logs()


def register(stack: Stack, username: str) -> str:
    """Register over https, then log in from a fresh client; the login's session."""
    with stack.nginx.client(headers={"Origin": stack.nginx.base}) as client:
        token = client.get("/api/csrf").json()["csrf_token"]
        body = {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
        answer = client.post("/api/auth/register", json=body, headers={"X-CSRFToken": token})
        assert answer.status_code == 201, answer.text
        assert "secure" in answer.headers["set-cookie"].lower()
    with stack.nginx.client(headers={"Origin": stack.nginx.base}) as client:
        token = client.get("/api/csrf").json()["csrf_token"]
        login = client.post(
            "/api/auth/login",
            json={"login": username, "password": PASSWORD},
            headers={"X-CSRFToken": token},
        )
        assert login.status_code == 200, login.text
        assert client.get("/api/me").json()["username"] == username
        return str(client.cookies["sessionid"])


def stored(stack: Stack, username: str) -> list[tuple[int, str, str]]:
    with psycopg.connect(
        urlunparse(urlparse(stack.database_url)._replace(scheme="postgresql"))
    ) as c:
        rows = c.execute(
            "SELECT m.seq, m.body, m.client_id FROM chat_message m "
            "JOIN accounts_user u ON u.id = m.author_id WHERE u.username = %s ORDER BY m.seq",
            [username],
        ).fetchall()
    return [(int(seq), str(body), str(client_id)) for seq, body, client_id in rows]


async def send_acked(tab: Tab, room: int, body: str, client_id: str) -> int:
    await tab.send({"type": "send", "room": room, "body": body, "client_id": client_id})
    frame = await tab.recv_type("ack")
    assert frame["client_id"] == client_id
    return int(frame["message"]["seq"])


def test_the_rendered_stack_serves_https_and_wss(stack: Stack) -> None:
    session = register(stack, "hostina")

    async def chat() -> int:
        tab = await Tab.open(stack.nginx.base, session, ssl=stack.nginx.ssl_context())
        try:
            assert tab.lobby is not None
            await tab.subscribe(tab.lobby)
            return await send_acked(tab, tab.lobby, "installed and talking", "c-host-1")
        finally:
            await tab.close()

    seq = asyncio.run(chat())
    assert stored(stack, "hostina") == [(seq, "installed and talking", "c-host-1")]

    with stack.nginx.client() as client:  # collected by the release unit, served by nginx
        css = client.get("/static/chatapp/app.css")
    assert css.status_code == 200 and css.headers["server"].startswith("nginx")
    assert "expires" in css.headers

    # certbot's webroot answers over plain HTTP; everything else is redirected.
    acme = stack.folder / "data" / "acme" / ".well-known" / "acme-challenge"
    acme.mkdir(parents=True)
    (acme / "token-1").write_text("proof")
    http = f"http://127.0.0.1:{stack.nginx.http_port}"
    challenge = httpx.get(
        f"{http}/.well-known/acme-challenge/token-1", headers={"Host": "localhost"}
    )
    assert (challenge.status_code, challenge.text) == (200, "proof")
    other = httpx.get(f"{http}/chat/", headers={"Host": "localhost"})
    assert other.status_code == 301 and other.headers["location"].startswith("https://")


def wait_ready(port: int, limit: float = 60) -> None:
    """install.sh's wait: /readyz on the worker itself, with a Host it serves."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the worker on {port} did not answer /readyz")


def test_a_rolling_restart_loses_no_message(stack: Stack) -> None:
    session = register(stack, "rolly")
    acked: dict[str, int] = {}
    reopened = 0
    restarted = asyncio.Event()

    async def sender() -> None:
        """Sends one message after another, as socket.js does: a socket closed
        (1012 from a draining worker) is opened again, through nginx, and the
        unacknowledged send goes again with its client_id."""
        nonlocal reopened
        tab: Tab | None = None
        i = 0
        while not restarted.is_set() or i < 20:
            client_id = f"roll-{i}"
            try:
                if tab is None:
                    tab = await Tab.open(stack.nginx.base, session, ssl=stack.nginx.ssl_context())
                    assert tab.lobby is not None
                    await tab.subscribe(tab.lobby)
                assert tab.lobby is not None
                acked[client_id] = await send_acked(tab, tab.lobby, f"rolling {i}", client_id)
                i += 1
                await asyncio.sleep(0.1)
            except (ConnectionClosed, OSError, TimeoutError) as exc:
                reopened += 1
                tab = None
                await asyncio.sleep(0.2 if not isinstance(exc, TimeoutError) else 0)
            except InvalidStatus as exc:  # 503 from a draining worker: again, as the client does
                assert exc.response.status_code == 503, exc
                tab = None
                await asyncio.sleep(0.2)
        if tab is not None:
            await tab.close()

    async def rolling_restart() -> None:
        await asyncio.sleep(1)
        for port in stack.ports:  # one at a time, each ready before the next
            server = stack.workers[port]
            assert server.process is not None
            await asyncio.to_thread(stop_process, server.process)  # SIGTERM: drains
            await asyncio.to_thread(stack.start_worker, port)
            await asyncio.to_thread(wait_ready, port)
        restarted.set()

    async def run() -> None:
        await asyncio.wait_for(asyncio.gather(sender(), rolling_restart()), timeout=180)

    asyncio.run(run())
    assert reopened >= 1, "no worker closed the sender's socket: the restart was not under load"
    total = len(acked)
    rows = stored(stack, "rolly")
    assert [client_id for _, _, client_id in rows] == [f"roll-{i}" for i in range(total)]
    assert [body for _, body, _ in rows] == [f"rolling {i}" for i in range(total)]
    assert {client_id: seq for seq, _, client_id in rows} == acked
