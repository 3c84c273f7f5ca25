"""Slow and oversized clients against a real `chatapp serve`: a connection
that sends nothing or trickles its headers is dropped after
HTTP_HEADER_TIMEOUT, and oversized headers get an answer (431), never silence."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.server import base_env, chatapp_server

pytestmark = pytest.mark.e2e

TIMEOUT = 1.5  # HTTP_HEADER_TIMEOUT of the server under test


@pytest.fixture(scope="module")
def server(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, int]]:
    data = tmp_path_factory.mktemp("slow-clients")
    env = base_env(
        DATABASE_URL=module_database_url,
        SECRET_KEY="e2e-" + uuid.uuid4().hex * 2,
        CHATAPP_DATA_DIR=str(data / "data"),
        HTTP_HEADER_TIMEOUT=str(TIMEOUT),
    )
    with chatapp_server(env=env, log_path=data / "server.log", args=("--migrate",)) as base:
        parts = urlsplit(base)
        assert parts.hostname and parts.port
        yield parts.hostname, parts.port


def connect(address: tuple[str, int]) -> socket.socket:
    sock = socket.create_connection(address, timeout=10)
    return sock


def read_until_closed(sock: socket.socket, limit: float = 10) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and how long that took."""
    started = time.monotonic()
    sock.settimeout(limit)
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks), time.monotonic() - started


def test_a_connection_that_sends_nothing_is_dropped(server: tuple[str, int]) -> None:
    with connect(server) as sock:
        answer, waited = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert TIMEOUT * 0.8 <= waited <= TIMEOUT + 3


def test_headers_trickled_line_by_line_are_cut_off(server: tuple[str, int]) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started = time.monotonic()
        answer = None
        for i in range(40):  # 20 s of trickling at most; the server must cut first
            try:
                sock.sendall(b"X-Slow-%d: a\r\n" % i)
                sock.settimeout(0.5)
                answer = sock.recv(65536)  # the 408, or b"" once closed
                break
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                answer = b""
                break
    assert answer is not None, "still open after 20 s of trickling"
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408 ")
    assert time.monotonic() - started <= TIMEOUT + 3


def test_a_websocket_upgrade_with_a_9kb_cookie_is_answered(server: tuple[str, int]) -> None:
    host, port = server
    request = (
        f"GET /ws/ HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        f"Origin: http://{host}:{port}\r\nCookie: sessionid={'x' * 9000}\r\n\r\n"
    ).encode()
    with connect(server) as sock:
        sock.sendall(request)
        answer, waited = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert waited < TIMEOUT  # answered at once, not left to the deadline


def test_too_many_header_bytes_in_short_lines_get_431(server: tuple[str, int]) -> None:
    lines = b"".join(b"X-Filler-%d: %s\r\n" % (i, b"y" * 1000) for i in range(40))
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + lines + b"\r\n")
        answer, _ = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 431 ")


def test_a_header_line_that_never_ends_gets_431(server: tuple[str, int]) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: ")
        try:
            for _ in range(10):
                sock.sendall(b"z" * 8192)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer, _ = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 431 ")


def test_ordinary_requests_still_work_on_a_kept_alive_connection(
    server: tuple[str, int],
) -> None:
    host, port = server
    with httpx.Client(base_url=f"http://{host}:{port}", timeout=10) as client:
        for _ in range(3):
            assert client.get("/healthz").status_code == 200
            time.sleep(TIMEOUT * 0.5)  # idle between requests: keep-alive, not the deadline
        assert client.get("/healthz", headers={"X-Big": "a" * 8000}).status_code == 200
