"""Start a real ``chatapp serve`` process on a free loopback port for a test,
and stop it (by PID) afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import free_port

CHATAPP = str(Path(sys.executable).with_name("chatapp"))
START_TIMEOUT = 90.0


class ServerFailed(RuntimeError):
    pass


@dataclass
class Server:
    base: str
    process: subprocess.Popen[bytes]
    log_path: Path


def start_server(
    *, env: dict[str, str], log_path: Path, args: tuple[str, ...] = (), port: int | None = None
) -> Server:
    """Start ``chatapp serve`` on ``port`` (default: a free loopback port) and wait until it
    is healthy. Its output is appended to ``log_path``, so a restart keeps the first run's."""
    port = port or free_port()
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [CHATAPP, "serve", "--host", "127.0.0.1", "--port", str(port), *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(f"http://127.0.0.1:{port}", process, log_path)
    try:
        _wait_healthy(server.base, process, log_path)
    except BaseException:
        stop(process)
        raise
    return server


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


def _wait_healthy(base: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerFailed(f"server exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise ServerFailed(f"server did not become healthy:\n{log_path.read_text()}")


def stop(process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


def base_env(**overrides: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "CHATAPP_EMBEDDED_PG_SOCKET"}
        and not key.startswith("PYTEST")
        and key != "DJANGO_SETTINGS_MODULE"
    }
    env.update(overrides)
    return env
