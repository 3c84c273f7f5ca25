"""Real ``chatapp serve`` processes for the end-to-end tests, started on a free
loopback port and stopped by PID: the bench's own server helper
(``chatapp.bench.procs``), so tests and benchmarks start servers one way."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from chatapp.bench.procs import Server, ServerFailed
from chatapp.bench.procs import start_chatapp as start_server
from chatapp.bench.procs import stop_process as stop

__all__ = [
    "CHATAPP",
    "Server",
    "ServerFailed",
    "base_env",
    "chatapp_server",
    "start_server",
    "stop",
]

CHATAPP = str(Path(sys.executable).with_name("chatapp"))
# Where the suite's own services are named: never passed on to a test's server.
SERVICE_VARIABLES = frozenset(
    {
        "DATABASE_URL",
        "REDIS_URL",
        "REDIS_SENTINELS",
        "REDIS_SENTINEL_MASTER",
        "REDIS_PASSWORD",
        "REDIS_SENTINEL_PASSWORD",
        "REDIS_LAYER_URLS",
        "SECRET_KEY",
        "CHATAPP_EMBEDDED_PG_SOCKET",
    }
)


@contextmanager
def chatapp_server(
    *, env: dict[str, str], log_path: Path, args: tuple[str, ...] = ()
) -> Iterator[str]:
    """Yield the base URL of a running server; its output goes to ``log_path``."""
    server = start_server(env=env, log_path=log_path, args=args)
    try:
        yield server.base
    finally:
        stop(server.process)


def base_env(**overrides: str) -> dict[str, str]:
    """This environment without the suite's services and pytest's variables, plus
    ``overrides``: each test names the database and Redis its servers use."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in SERVICE_VARIABLES
        and not key.startswith("PYTEST")
        and key != "DJANGO_SETTINGS_MODULE"
    }
    env.update(overrides)
    return env
