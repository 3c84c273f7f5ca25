"""The Origin check of the /ws/ handshake: scheme, host and port, not host alone."""

from __future__ import annotations

from typing import Any

import pytest

from chatapp.realtime.origins import origin_allowed, parse_origin


def scope(origin: str | None, host: str = "chat.example.com", scheme: str = "wss") -> Any:
    headers = [(b"host", host.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    return {"type": "websocket", "scheme": scheme, "headers": headers, "server": None}


@pytest.fixture(autouse=True)
def _site(settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["chat.example.com", "127.0.0.1"]
    settings.CSRF_TRUSTED_ORIGINS = []


@pytest.mark.parametrize(
    "origin",
    [
        "https://chat.example.com",
        "https://chat.example.com:443",
        "HTTPS://Chat.Example.com",
    ],
)
def test_the_site_itself_is_allowed(origin: str) -> None:
    assert origin_allowed(scope(origin))


@pytest.mark.parametrize(
    "origin",
    [
        "http://chat.example.com",  # another scheme
        "https://chat.example.com:8443",  # another port
        "chrome-extension://chat.example.com",  # a non-web scheme
        "null",  # a sandboxed frame or a file
        "https://evil.example.com",
        "https://chat.example.com.evil.example",
        "https://user@chat.example.com",
        "https://chat.example.com:99999",
        "",
        None,
    ],
)
def test_anything_else_is_refused(origin: str | None) -> None:
    assert not origin_allowed(scope(origin))


def test_plain_http_site_on_its_own_port() -> None:
    assert origin_allowed(scope("http://127.0.0.1:8000", host="127.0.0.1:8000", scheme="ws"))
    assert not origin_allowed(scope("http://127.0.0.1:8001", host="127.0.0.1:8000", scheme="ws"))
    assert not origin_allowed(scope("https://127.0.0.1:8000", host="127.0.0.1:8000", scheme="ws"))


def test_a_host_outside_allowed_hosts_is_refused_even_when_origin_matches_it() -> None:
    assert not origin_allowed(scope("https://evil.example", host="evil.example"))


def test_allowed_hosts_star_keeps_the_check_strict(settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["*"]
    assert origin_allowed(scope("https://any.example", host="any.example"))
    # A page of another site, opening a socket to this one: Host is this site.
    assert not origin_allowed(scope("https://evil.example", host="chat.example.com"))


def test_csrf_trusted_origins_are_allowed(settings: Any) -> None:
    settings.CSRF_TRUSTED_ORIGINS = ["https://app.example.org", "https://*.example.net"]
    assert origin_allowed(scope("https://app.example.org"))
    assert origin_allowed(scope("https://a.b.example.net"))
    assert not origin_allowed(scope("http://app.example.org"))
    assert not origin_allowed(scope("https://app.example.org:444"))
    assert not origin_allowed(scope("https://example.net.evil.example"))


def test_host_from_the_server_when_the_header_is_missing() -> None:
    no_host: Any = {
        "type": "websocket",
        "scheme": "ws",
        "headers": [(b"origin", b"http://127.0.0.1:8000")],
        "server": ("127.0.0.1", 8000),
    }
    assert origin_allowed(no_host)


def test_parse_origin_applies_default_ports() -> None:
    assert parse_origin("https://a.example") == ("https", "a.example", 443)
    assert parse_origin("http://a.example") == ("http", "a.example", 80)
    assert parse_origin("ftp://a.example") is None
