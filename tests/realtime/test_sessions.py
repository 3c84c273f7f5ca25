"""Sessions that end end their sockets: the session watcher
(``realtime.sessions``), the handshake's session check
(``chat.socket.ChatEndpoint.authenticate``), and every way a session ends
(logout, a password change or reset, "log out everywhere", an account
deactivated or deleted), in process."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from asgiref.sync import sync_to_async
from django.core import mail
from django.test import Client, override_settings

from chatapp.realtime.sessions import SessionRef, SessionWatcher

NEW_PASSWORD = "a brand new passphrase 42"
# Like every socket test: the database is flushed after each, then restored.
on_database = pytest.mark.django_db(transaction=True, serialized_rollback=True)


class Watched:
    def __init__(self, key: str, user_id: int = 1) -> None:
        self.session = SessionRef(key, user_id, "c")
        self.ended = asyncio.Event()

    async def session_ended(self) -> None:
        self.ended.set()


@override_settings(SESSION_CHECK_INTERVAL=0.02)
async def test_sockets_of_ended_sessions_are_told_and_an_outage_ends_none() -> None:
    live = {"a", "b"}
    database_down = False

    async def valid_sessions(sessions: list[SessionRef], *, credentials: bool) -> set[SessionRef]:
        if database_down:
            raise asyncpg.CannotConnectNowError("the database system is starting up")
        return {session for session in sessions if session.key in live}

    watcher = SessionWatcher()
    a, b = Watched("a"), Watched("b")
    watcher.add(a, valid_sessions)
    watcher.add(b, valid_sessions)
    database_down = True
    await asyncio.sleep(0.1)
    assert not a.ended.is_set() and not b.ended.is_set()  # nobody is logged out by an outage
    assert watcher.task is not None and not watcher.task.done()
    database_down = False
    live.discard("b")
    await asyncio.wait_for(b.ended.wait(), 1)
    assert not a.ended.is_set()
    watcher.discard(a)
    await asyncio.wait_for(watcher.task, 1)  # no sockets left: the loop ends


class Checks:
    """An endpoint's ``valid_sessions`` that remembers what it was asked."""

    def __init__(self, valid: set[str]) -> None:
        self.valid = valid  # keys whose sessions hold, credentials included
        self.existing = set(valid)  # keys whose sessions exist
        self.asked: list[tuple[list[str], bool]] = []

    async def __call__(self, sessions: list[SessionRef], *, credentials: bool) -> set[SessionRef]:
        self.asked.append((sorted(session.key for session in sessions), credentials))
        holding = self.valid if credentials else self.existing
        return {session for session in sessions if session.key in holding}


@override_settings(SESSION_CHECK_INTERVAL=60)
async def test_a_recheck_checks_those_sockets_credentials_at_once_in_one_query() -> None:
    checks = Checks({"a", "b", "c"})
    watcher = SessionWatcher()
    a, b, c = Watched("a", 1), Watched("b", 1), Watched("c", 2)
    for socket in (a, b, c):
        watcher.add(socket, checks)
    checks.valid -= {"b", "c"}  # a new password, say: the sessions still exist
    watcher.recheck([a])
    watcher.recheck([b])  # arrives together with the first: shares its query
    await asyncio.wait_for(b.ended.wait(), 1)
    assert checks.asked == [(["a", "b"], True)]
    assert not a.ended.is_set()
    assert not c.ended.is_set()  # not rechecked: left to the periodic check
    watcher.recheck([b])  # already closed: not asked again
    await asyncio.sleep(0.05)
    assert len(checks.asked) == 1
    assert watcher.task is not None
    watcher.task.cancel()


@override_settings(SESSION_CHECK_INTERVAL=0.02)
async def test_credentials_are_checked_every_so_often_and_on_every_tick_while_events_are_down(
    monkeypatch,
) -> None:
    from chatapp.realtime import sessions

    monkeypatch.setattr(sessions, "CREDENTIAL_CHECK_EVERY", 5)
    checks = Checks({"a", "b"})
    watcher = SessionWatcher()
    a, b = Watched("a"), Watched("b")
    watcher.add(a, checks)
    watcher.add(b, checks)
    await asyncio.sleep(0.3)
    kinds = [credentials for _, credentials in checks.asked]
    assert kinds.count(False) >= 3 * kinds.count(True) > 0
    # Events are down: the credentials on every tick, so a new password there
    # ends the session within a tick or two.
    watcher.set_events_down(True)
    checks.asked.clear()
    await asyncio.sleep(0.1)
    assert checks.asked and all(credentials for _, credentials in checks.asked)
    checks.valid.discard("b")
    await asyncio.wait_for(b.ended.wait(), 0.2)
    # Back: one more look at the credentials, then every so often again.
    watcher.set_events_down(False)
    checks.asked.clear()
    await asyncio.sleep(0.06)
    assert checks.asked[0] == (["a"], True)
    assert not all(credentials for _, credentials in checks.asked)
    assert not a.ended.is_set()
    assert watcher.task is not None
    watcher.task.cancel()


@on_database
async def test_a_session_made_before_a_password_change_does_not_open_a_socket(make_user) -> None:
    from chatapp.chat import sql
    from chatapp.chat.socket import ChatEndpoint

    user = await sync_to_async(make_user)("alice")
    client = Client()
    await sync_to_async(client.force_login)(user)
    key = client.cookies["sessionid"].value
    scope = {"type": "websocket", "headers": [(b"cookie", f"sessionid={key}".encode())]}
    endpoint = ChatEndpoint()
    try:
        identity = await endpoint.authenticate(scope)  # type: ignore[arg-type]
        assert identity is not None and identity.user_id == user.pk
        assert '"type":"hello"' in identity.hello
        ref = SessionRef(key, user.pk, identity.credential)
        assert await endpoint.valid_sessions([ref], credentials=True) == {ref}
        user.set_password("another long passphrase")
        await user.asave()
        assert await endpoint.valid_sessions([ref], credentials=True) == set()
        assert await endpoint.valid_sessions([ref], credentials=False) == {ref}  # it exists
        assert await endpoint.authenticate(scope) is None  # type: ignore[arg-type]
        user.is_active = False
        await user.asave()
        assert await endpoint.authenticate(scope) is None  # type: ignore[arg-type]
        bad = {"type": "websocket", "headers": [(b"cookie", b"sessionid=" + b"x" * 500)]}
        assert await endpoint.authenticate(bad) is None  # type: ignore[arg-type]
    finally:
        await sql.close_pool()


# --- every way a session ends, on a real socket -------------------------------------
#
# The periodic check is pushed out of the way (a minute): what closes the
# sockets here is the per-user recheck the write publishes.


async def _closed_with(socket: Any, code: int, within: float = 2.0) -> None:
    while True:
        out = await socket.comm.receive_output(timeout=within)
        if out["type"] == "websocket.close":
            assert out["code"] == code, out
            return
        assert out["type"] == "websocket.send", out  # frames already queued may come first


async def _still_open(socket: Any) -> None:
    await socket.send({"type": "ping"})
    assert (await socket.recv_type("pong")) == {"type": "pong"}


def _logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _key(client: Client) -> str:
    return client.cookies["sessionid"].value


@dataclass
class TwoSessions:
    """alice logged in twice (two clients), and bob once."""

    alice: Any
    first: Client
    second: Client
    bob: Client


@pytest.fixture
def two_sessions(make_user) -> Callable[[], Any]:
    def make() -> TwoSessions:
        alice = make_user("alice")
        return TwoSessions(
            alice, _logged_in(alice), _logged_in(alice), _logged_in(make_user("bob"))
        )

    return sync_to_async(make)


async def _open(connect: Any, *clients: Client) -> list[Any]:
    sockets = []
    for client in clients:
        socket = await connect(_key(client))
        assert (await socket.recv())["type"] == "hello"
        sockets.append(socket)
    return sockets


@on_database
@override_settings(SESSION_CHECK_INTERVAL=60)
async def test_a_password_change_closes_the_sockets_of_the_other_sessions(
    connect, two_sessions, password
) -> None:
    s = await two_sessions()
    other, own, bystander = await _open(connect, s.second, s.first, s.bob)
    form = {"old_password": password, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    changed = await sync_to_async(s.first.post)("/accounts/password/change/", form)
    assert changed.status_code == 302
    await _closed_with(other, 4401)
    # Django gives the changing session a new key (update_session_auth_hash), so
    # the sockets opened with the old one close too: they cannot be told apart
    # from a stolen copy of it. The browser reconnects with the new cookie.
    await _closed_with(own, 4401)
    assert (await sync_to_async(s.first.get)("/api/me")).status_code == 200
    assert (await sync_to_async(s.second.get)("/api/me")).status_code == 401
    (again,) = await _open(connect, s.first)
    await _still_open(again)
    await _still_open(bystander)


@on_database
@override_settings(SESSION_CHECK_INTERVAL=60)
async def test_a_password_reset_by_mail_closes_every_socket_of_the_user(
    connect, two_sessions
) -> None:
    s = await two_sessions()
    sockets = await _open(connect, s.first, s.second)
    (bystander,) = await _open(connect, s.bob)

    def reset() -> None:
        client = Client()
        client.post("/accounts/password/reset/", {"email": "alice@example.com"})
        link = re.search(r"http://testserver(/accounts/password/reset/\S+/)", mail.outbox[-1].body)
        assert link
        set_url = client.get(link.group(1), follow=True).redirect_chain[-1][0]
        done = client.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
        assert done.status_code == 302

    await sync_to_async(reset)()
    for socket in sockets:
        await _closed_with(socket, 4401)
    await _still_open(bystander)


@on_database
@override_settings(SESSION_CHECK_INTERVAL=60)
async def test_deactivating_in_the_admin_closes_every_socket_of_the_user(
    connect, two_sessions, make_user
) -> None:
    s = await two_sessions()
    sockets = await _open(connect, s.first, s.second)
    (bystander,) = await _open(connect, s.bob)

    def deactivate() -> None:
        admin = _logged_in(make_user("root", is_staff=True, is_superuser=True))
        url = f"/admin/accounts/user/{s.alice.pk}/change/"
        form = admin.get(url).context["adminform"].form
        data = {
            name: value
            for name, value in form.initial.items()
            if value is not None and name not in {"password", "avatar", "last_login"}
        }
        data.update(
            is_active="",  # an unchecked box is not sent
            date_joined_0=s.alice.date_joined.strftime("%Y-%m-%d"),
            date_joined_1=s.alice.date_joined.strftime("%H:%M:%S"),
            groups=[],
            user_permissions=[],
        )
        for name in ("is_active", "is_staff", "is_superuser", "hide_email"):
            if not data.get(name):
                data.pop(name, None)
        answer = admin.post(url, data)
        assert answer.status_code == 302, answer.context["adminform"].form.errors
        s.alice.refresh_from_db()
        assert not s.alice.is_active

    await sync_to_async(deactivate)()
    for socket in sockets:
        await _closed_with(socket, 4401)
    await _still_open(bystander)


@on_database
@override_settings(SESSION_CHECK_INTERVAL=60)
async def test_deleting_the_user_closes_its_sockets(connect, two_sessions) -> None:
    s = await two_sessions()
    sockets = await _open(connect, s.first, s.second)
    await s.alice.adelete()
    for socket in sockets:
        await _closed_with(socket, 4401)


@on_database
@override_settings(SESSION_CHECK_INTERVAL=60)
async def test_log_out_everywhere_over_the_api_ends_every_session_and_socket(
    connect, two_sessions, password
) -> None:
    s = await two_sessions()
    sockets = await _open(connect, s.first, s.second)
    (bystander,) = await _open(connect, s.bob)
    answer = await sync_to_async(s.first.post)("/api/auth/logout-all")
    assert answer.status_code == 204
    for socket in sockets:
        await _closed_with(socket, 4401)
    for client in (s.first, s.second):
        assert (await sync_to_async(client.get)("/api/me")).status_code == 401
    await _still_open(bystander)
    # Logging in again works as before, and so does a new socket.
    fresh = Client()
    login = {"login": "alice", "password": password}
    answer = await sync_to_async(fresh.post)("/api/auth/login", login, "application/json")
    assert answer.status_code == 200
    await _still_open((await _open(connect, fresh))[0])


@on_database
@override_settings(SESSION_CHECK_INTERVAL=60)
async def test_log_out_everywhere_from_the_profile_page(connect, two_sessions) -> None:
    s = await two_sessions()
    page = await sync_to_async(s.first.get)(f"/accounts/u/{s.alice.username}/")
    assert b'action="/accounts/logout-all/"' in page.content
    sockets = await _open(connect, s.first, s.second)
    answer = await sync_to_async(s.first.post)("/accounts/logout-all/")
    assert answer.status_code == 302 and answer["Location"] == "/accounts/login/"
    for socket in sockets:
        await _closed_with(socket, 4401)
    assert (await sync_to_async(s.second.get)("/api/me")).status_code == 401


@on_database
@override_settings(SESSION_CHECK_INTERVAL=60)
async def test_logout_closes_that_sessions_sockets_at_once(connect, two_sessions) -> None:
    s = await two_sessions()
    ended, kept = await _open(connect, s.first, s.second)
    assert (await sync_to_async(s.first.post)("/api/auth/logout")).status_code == 204
    await _closed_with(ended, 4401)
    await _still_open(kept)


@on_database
@override_settings(SESSION_CHECK_INTERVAL=0.1)
async def test_a_bulk_update_that_sends_no_event_is_caught_by_the_periodic_check(
    connect, two_sessions, monkeypatch
) -> None:
    from chatapp.accounts.models import User
    from chatapp.realtime import sessions

    monkeypatch.setattr(sessions, "CREDENTIAL_CHECK_EVERY", 3)
    s = await two_sessions()
    sockets = await _open(connect, s.first, s.second)
    (bystander,) = await _open(connect, s.bob)
    await User.objects.filter(pk=s.alice.pk).aupdate(is_active=False)
    for socket in sockets:
        await _closed_with(socket, 4401)
    await _still_open(bystander)
