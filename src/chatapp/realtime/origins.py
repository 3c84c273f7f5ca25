"""Which pages may open a socket: the Origin check of the /ws/ handshake.

Browsers send the cookie of this site with a socket opened by any page, so a
page of another site could ride on the user's session (cross-site WebSocket
hijacking). The handshake is accepted only when its ``Origin`` is this site
itself, compared as Django's CSRF check compares it: scheme, host and port of
the request (the ``Host`` it names, which must be one of ``ALLOWED_HOSTS``,
and ``wss`` for ``https``), or one of ``CSRF_TRUSTED_ORIGINS``. Another port,
another scheme, a non-web scheme (``chrome-extension://…``) or ``null`` is
refused. ``ALLOWED_HOSTS=*`` lets any Host through, but the Origin must still
name that same Host, so the check stays strict."""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit

from asgiref.typing import WebSocketScope
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain

Origin = tuple[str, str, int]  # scheme, lower-case host, port

DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_needed(scope: WebSocketScope) -> bool:
    """Cookie handshakes need the Origin check; one that presents an
    ``Authorization: Bearer`` token does not (hijacking rides on cookies, and
    a page cannot set that header on a WebSocket). The endpoint must then
    authenticate by the token alone, never falling back to the cookie."""
    for name, value in scope["headers"]:
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            return False
    return True


def origin_allowed(scope: WebSocketScope) -> bool:
    headers = dict(scope["headers"])
    raw = headers.get(b"origin")
    if raw is None:
        return False
    origin = parse_origin(raw.decode("latin-1"))
    if origin is None:
        return False
    if any(_trusted(origin, pattern) for pattern in settings.CSRF_TRUSTED_ORIGINS):
        return True
    return origin == _site_origin(scope, headers)


# Pure functions of a few strings, called on every handshake: a connect storm
# asks the same questions thousands of times (4 % of a connect's CPU, py-spy).
@lru_cache(maxsize=1024)
def parse_origin(text: str) -> Origin | None:
    """``scheme://host[:port]`` of a web page, or None for anything else."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    if parts.path not in ("", "/") or parts.query or parts.username is not None:
        return None
    return scheme, parts.hostname, port or DEFAULT_PORTS[scheme]


def _site_origin(scope: WebSocketScope, headers: dict[bytes, bytes]) -> Origin | None:
    """The origin of the page this handshake belongs to: the request's own
    scheme and Host, when the Host is one this site answers to."""
    host = headers.get(b"host", b"").decode("latin-1")
    if not host:
        server = scope.get("server")
        if not server or server[1] is None:
            return None
        host = f"{server[0]}:{server[1]}"
    scheme = "https" if scope.get("scheme") in ("wss", "https") else "http"
    return _origin_of(scheme, host, tuple(_allowed_hosts()))


@lru_cache(maxsize=1024)
def _origin_of(scheme: str, host: str, allowed_hosts: tuple[str, ...]) -> Origin | None:
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, list(allowed_hosts)):
        return None
    return parse_origin(f"{scheme}://{host}")


def _allowed_hosts() -> list[str]:
    # Django's own rule: with DEBUG and no ALLOWED_HOSTS, local names only.
    if settings.ALLOWED_HOSTS:
        return list(settings.ALLOWED_HOSTS)
    return [".localhost", "127.0.0.1", "[::1]"] if settings.DEBUG else []


def _trusted(origin: Origin, pattern: str) -> bool:
    """``pattern`` is a CSRF_TRUSTED_ORIGINS entry, maybe ``https://*.example.com``."""
    wildcard = "://*." in pattern
    trusted = parse_origin(pattern.replace("://*.", "://", 1) if wildcard else pattern)
    if trusted is None:
        return False
    scheme, host, port = trusted
    if origin[0] != scheme or origin[2] != port:
        return False
    return is_same_domain(origin[1], f".{host}") if wildcard else origin[1] == host
