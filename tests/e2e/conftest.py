from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlparse, urlunparse

import psycopg
import pytest


@pytest.fixture
def e2e_database_url() -> Iterator[str]:
    """A fresh database on the real PostgreSQL of DATABASE_URL, dropped afterwards."""
    yield from fresh_database()


@pytest.fixture(scope="module")
def module_database_url() -> Iterator[str]:
    """The same, shared by the tests of one module (their servers start once)."""
    yield from fresh_database()


def fresh_database() -> Iterator[str]:
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        pytest.skip("DATABASE_URL is not set (CI always sets it)")
    name = f"chatapp_e2e_{uuid.uuid4().hex[:10]}"
    admin = urlparse(url)._replace(scheme="postgresql")
    with psycopg.connect(urlunparse(admin), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunparse(urlparse(url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(urlunparse(admin), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
