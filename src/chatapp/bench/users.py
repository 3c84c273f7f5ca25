"""Users for the benchmarks and the end-to-end tests, made over the JSON API,
or in bulk straight in the database when the bench started the server itself.

Registering costs about 0.4 s of password hashing each, so the bench keeps its
users' session cookies in a cache file, keyed by the database and the secret
key that signs them; later runs against the same database only check them.
"""

from __future__ import annotations

import asyncio
import datetime
import fcntl
import hashlib
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from chatapp.bench import BenchError, say
from chatapp.bench.wsclient import credential_headers

# Throwaway accounts on a loopback server, not a secret.
BENCH_PASSWORD = "fan-out bench password 7f3a9c"  # noqa: S105
REGISTER_TIMEOUT = 180.0  # s for one registration while many hash at once


class RegistrationFailed(BenchError):
    pass


async def register(
    base: str, username: str, *, password: str, client: httpx.AsyncClient | None = None
) -> str:
    """Register ``username`` over HTTP (CSRF cookie, then POST); returns its session cookie."""
    if client is None:
        async with httpx.AsyncClient(base_url=base, timeout=REGISTER_TIMEOUT) as own:
            return await register(base, username, password=password, client=own)
    token = (await client.get("/api/csrf")).json()["csrf_token"]
    answer = await client.post(
        "/api/auth/register",
        json={"username": username, "email": f"{username}@example.com", "password": password},
        headers={"X-CSRFToken": token},
    )
    if answer.status_code != 201:
        raise RegistrationFailed(f"register {username}: {answer.status_code} {answer.text[:200]}")
    return str(client.cookies["sessionid"])


# --- the session cache --------------------------------------------------------------


def default_cache_path() -> str:
    return str(Path(os.environ.get("CHATAPP_DATA_DIR", "var")) / "bench" / "sessions.json")


def cache_key(url: str | None) -> str:
    """Where the sessions live: the database, and the secret key that signs them."""
    if url:
        return f"url {url}"
    database = os.environ.get("DATABASE_URL", "")
    if not database:
        return "embedded " + str(Path(os.environ.get("CHATAPP_DATA_DIR", "var")).resolve())
    parts = urlsplit(database)
    netloc = parts.hostname or ""
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    secret = hashlib.sha256(os.environ.get("SECRET_KEY", "").encode()).hexdigest()[:12]
    return f"db {urlunsplit((parts.scheme, netloc, parts.path, '', ''))} key {secret}"


def _read_cache(target: Path) -> dict[str, Any]:
    try:
        data = json.loads(target.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _load_cache(path: str, key: str) -> list[str]:
    if not path:
        return []
    found = _read_cache(Path(path)).get(key, [])
    return (
        [cookie for cookie in found if isinstance(cookie, str)] if isinstance(found, list) else []
    )


def _save_cache(path: str, key: str, cookies: list[str], invalid: set[str]) -> None:
    """Store our cookies first, then any another run stored meanwhile, less the
    ones found invalid; under a lock, so concurrent runs lose nothing."""
    if not path:
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = _read_cache(target)
        ours = set(cookies)
        theirs = data.get(key, [])
        theirs = theirs if isinstance(theirs, list) else []
        data[key] = cookies + [
            c for c in theirs if isinstance(c, str) and c not in ours and c not in invalid
        ]
        temporary = target.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(data, out)
        os.replace(temporary, target)


async def _valid_sessions(base: str, cookies: list[str], concurrency: int) -> list[str]:
    gate = asyncio.Semaphore(concurrency)

    async with httpx.AsyncClient(base_url=base, timeout=30) as client:

        async def check(cookie: str) -> bool:
            async with gate:
                client.cookies.clear()
                answer = await client.get("/api/me", headers=credential_headers(cookie))
                return answer.status_code == 200

        valid = await asyncio.gather(*(check(cookie) for cookie in cookies))
    return [cookie for cookie, ok in zip(cookies, valid, strict=True) if ok]


async def _register_bench_user(base: str, gate: asyncio.Semaphore) -> str:
    async with gate:
        return await register(base, f"fan_{secrets.token_hex(6)}", password=BENCH_PASSWORD)


def seed_sessions(count: int) -> list[str]:
    """Make ``count`` users and a logged-in session for each straight in the
    database of DATABASE_URL, in bulk: 10,000 in seconds, where registering
    over the API hashes a password for each (about 0.4 s of CPU). The users
    have no usable password; their sessions are what ``login`` would store."""
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
    )
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.db import connections
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    from chatapp.accounts.services import users_create_in_bulk

    users = users_create_in_bulk(prefix=f"fan_{secrets.token_hex(4)}_", count=count)
    backend = settings.AUTHENTICATION_BACKENDS[-1]
    expires = timezone.now() + datetime.timedelta(seconds=settings.SESSION_COOKIE_AGE)
    store = SessionStore()
    sessions = [
        Session(
            session_key=get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789"),
            session_data=store.encode(
                {
                    SESSION_KEY: str(user.pk),
                    BACKEND_SESSION_KEY: backend,
                    HASH_SESSION_KEY: user.get_session_auth_hash(),
                }
            ),
            expire_date=expires,
        )
        for user in users
    ]
    Session.objects.bulk_create(sessions, batch_size=1000)
    connections.close_all()
    return [session.session_key for session in sessions]


def seed_tokens(count: int) -> list[str]:
    """``count`` users with an API token each, in the database of DATABASE_URL
    (as ``chatapp loadtest users`` makes them)."""
    import django

    django.setup()
    from django.db import connections, transaction

    from chatapp.accounts.services import users_create_in_bulk
    from chatapp.tokens.services import tokens_create_in_bulk

    with transaction.atomic():
        users = users_create_in_bulk(prefix=f"tok_{secrets.token_hex(4)}_", count=count)
        tokens = tokens_create_in_bulk(users=users, name="bench")
    connections.close_all()
    return tokens


async def ensure_sessions(
    base: str,
    count: int,
    *,
    cache_path: str,
    key: str,
    concurrency: int,
    seed: bool = False,
    auth: str = "session",
) -> list[str]:
    """``count`` credentials of distinct users (session keys, or API tokens
    with ``auth="token"``): cached ones still valid, then new ones, made in the
    database when ``seed`` (else, for sessions, registered over the API)."""
    if auth == "token":
        key = f"{key} tokens"
        if not seed:
            raise BenchError("--auth token needs a server the bench starts on DATABASE_URL")
    cached = _load_cache(cache_path, key)
    cookies: list[str] = []
    invalid: set[str] = set()
    checked = 0
    started = time.monotonic()
    while len(cookies) < count and checked < len(cached):
        batch = cached[checked : checked + count - len(cookies)]
        checked += len(batch)
        valid = await _valid_sessions(base, batch, 16)
        cookies += valid
        invalid.update(set(batch) - set(valid))
    if checked:
        say(
            f"{len(cookies)} of {checked} cached sessions are valid "
            f"({time.monotonic() - started:.1f} s)"
        )
    unchecked = cached[checked:]
    missing = count - len(cookies)
    if invalid and not missing:
        _save_cache(cache_path, key, cookies + unchecked, invalid)
    if missing and seed:
        started = time.monotonic()
        cookies += await asyncio.to_thread(
            seed_tokens if auth == "token" else seed_sessions, missing
        )
        elapsed = time.monotonic() - started
        say(f"made {missing} users and sessions in the database ({elapsed:.1f} s)")
        _save_cache(cache_path, key, cookies, invalid)
        missing = 0
    if missing:
        say(f"registering {missing} users over the API ({concurrency} at a time)")
        gate = asyncio.Semaphore(concurrency)
        started = time.monotonic()
        pending = [asyncio.ensure_future(_register_bench_user(base, gate)) for _ in range(missing)]
        try:
            for done, next_cookie in enumerate(asyncio.as_completed(pending), 1):
                cookies.append(await next_cookie)
                if done % 100 == 0 or done == missing:
                    rate = done / (time.monotonic() - started)
                    say(f"  {done}/{missing} registered ({rate:.1f}/s)")
                    _save_cache(cache_path, key, cookies, invalid)
        finally:
            for task in pending:
                task.cancel()
            _save_cache(cache_path, key, cookies, invalid)
    return cookies[:count]
