"""Sessions that end end their sockets on every worker: two `chatapp serve`
processes sharing one database and Redis, spoken to only over HTTP and
WebSockets."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.e2e.client import PASSWORD, Tab, register
from tests.e2e.server import Server
from tests.e2e.test_realtime import server_env, servers, start_pair

__all__ = ["servers"]  # the fixture, shared with test_realtime

pytestmark = pytest.mark.e2e

NEW_PASSWORD = "another correct horse battery"


async def login(base: str, username: str, password: str = PASSWORD) -> str:
    """A second session of an existing user; returns its cookie."""
    async with httpx.AsyncClient(base_url=base) as http:
        token = (await http.get("/api/csrf")).json()["csrf_token"]
        answer = await http.post(
            "/api/auth/login",
            json={"login": username, "password": password},
            headers={"X-CSRFToken": token},
        )
        assert answer.status_code == 200, answer.text
        return str(http.cookies["sessionid"])


async def change_password(base: str, session: str) -> None:
    """The profile's password form, as a browser submits it."""
    async with httpx.AsyncClient(base_url=base, cookies={"sessionid": session}) as http:
        page = await http.get("/accounts/password/change/")
        assert page.status_code == 200
        form = {
            "csrfmiddlewaretoken": http.cookies["csrftoken"],
            "old_password": PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        }
        answer = await http.post("/accounts/password/change/", data=form)
        assert answer.status_code == 302, answer.text[:500]


async def closed_code(tab: Tab, within: float) -> int | None:
    with pytest.raises(ConnectionClosed) as closed:
        await tab.recv_type("never", timeout=within)
    return closed.value.rcvd.code if closed.value.rcvd else None


async def test_a_password_change_on_one_worker_closes_the_other_sessions_socket_on_another(
    servers: list[Server], e2e_database_url: str, tmp_path: Path, redis_url: str
) -> None:
    # The periodic check is pushed out of the way: only the per-user event can
    # close the socket in time.
    env = server_env(e2e_database_url, tmp_path, REDIS_URL=redis_url, SESSION_CHECK_INTERVAL="30")
    a, b = (server.base for server in start_pair(servers, env, tmp_path))
    changing = await register(a, "alice")
    other = await login(b, "alice")
    bystander = await Tab.open(b, await register(b, "bob"))
    socket = await Tab.open(b, other)

    await change_password(a, changing)
    assert await closed_code(socket, within=2.0) == 4401
    await bystander.send({"type": "ping"})
    assert await bystander.recv_type("pong") == {"type": "pong"}


async def test_log_out_everywhere_closes_every_socket_on_every_worker(
    servers: list[Server], e2e_database_url: str, tmp_path: Path, redis_url: str
) -> None:
    env = server_env(e2e_database_url, tmp_path, REDIS_URL=redis_url, SESSION_CHECK_INTERVAL="30")
    a, b = (server.base for server in start_pair(servers, env, tmp_path))
    first = await register(a, "alice")
    second = await login(b, "alice")
    tabs = [await Tab.open(a, first), await Tab.open(b, first), await Tab.open(b, second)]
    async with httpx.AsyncClient(base_url=a, cookies={"sessionid": first}) as http:
        token = (await http.get("/api/csrf")).json()["csrf_token"]
        answer = await http.post("/api/auth/logout-all", headers={"X-CSRFToken": token})
        assert answer.status_code == 204
    codes = await asyncio.gather(*(closed_code(tab, within=2.0) for tab in tabs))
    assert codes == [4401, 4401, 4401]
    for base, session in ((a, first), (b, second)):
        async with httpx.AsyncClient(base_url=base, cookies={"sessionid": session}) as http:
            assert (await http.get("/api/me")).status_code == 401
