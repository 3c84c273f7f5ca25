"""Shared fixtures.

The suite runs against the real PostgreSQL and Redis named by DATABASE_URL and
REDIS_URL (CI sets both to the servers on 127.0.0.1). Without DATABASE_URL it
uses the embedded PostgreSQL. Under CI=true a missing service fails the run:
nothing is skipped for want of one.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest

ON_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), 2
        ):
            return True
    except OSError:
        return False


def pytest_configure(config: pytest.Config) -> None:
    if not ON_CI:
        return
    missing = [name for name in ("DATABASE_URL", "REDIS_URL") if not os.environ.get(name)]
    if missing:
        raise pytest.UsageError(
            f"CI=true but {', '.join(missing)} is not set: CI tests real services"
        )
    if not _reachable(os.environ["DATABASE_URL"], 5432):
        raise pytest.UsageError("CI=true but PostgreSQL at DATABASE_URL does not answer")
    if not _reachable(os.environ["REDIS_URL"], 6379):
        raise pytest.UsageError("CI=true but Redis at REDIS_URL does not answer")


@pytest.fixture
def redis_url() -> str:
    """The real Redis. Outside CI a run without REDIS_URL skips these tests;
    on CI pytest_configure has already failed the run instead."""
    url = os.environ.get("REDIS_URL", "")
    if not url:
        pytest.skip("REDIS_URL is not set (CI always sets it)")
    if not _reachable(url, 6379):
        pytest.fail(f"REDIS_URL={url} does not answer")
    return url


@pytest.fixture(autouse=True)
def _plain_static_storage(settings: pytest.FixtureRequest) -> None:
    # Templates render {% static %} without a collected manifest in unit tests.
    settings.STORAGES = {  # type: ignore[attr-defined]
        **settings.STORAGES,  # type: ignore[attr-defined]
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _media_in_tmp(
    settings: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> None:
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")  # type: ignore[attr-defined]


@pytest.fixture
def password() -> str:
    return "correct horse battery staple"


@pytest.fixture
def make_user(db: None, password: str) -> Iterator[object]:
    from chatapp.accounts.models import User

    def make(username: str = "alice", email: str | None = None, **extra: object) -> User:
        return User.objects.create_user(
            username=username, email=email or f"{username}@example.com", password=password, **extra
        )

    yield make


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:  # type: ignore[no-untyped-def]
    # Real hashing costs ~0.3 s a call; the end-to-end tests still use it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _throttles_per_test(settings) -> None:  # type: ignore[no-untyped-def]
    # Throttle counts outlive a test (in Redis, or in the process's memory), and
    # every test client comes from 127.0.0.1: each test counts under keys of its own.
    settings.THROTTLE_PREFIX = f"throttle-{uuid.uuid4().hex}"
