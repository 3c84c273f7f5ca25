"""Who a client is: its own address, as the server resolved it.

``chatapp serve`` runs uvicorn with proxy headers on: for a connection from a
proxy listed in ``FORWARDED_ALLOW_IPS`` (nginx on the same host, a PaaS
router) the ASGI scope's client, and so Django's ``REMOTE_ADDR``, is the
address the proxy put in ``X-Forwarded-For``; from anyone else the header is
ignored and the peer address stands. Every check made per client address (the
throttles, the ``/metrics`` allow-list) reads it here, so none of them trusts
a header a client could choose.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_ip(raw: str | None) -> IPAddress | None:
    """The client address of ``REMOTE_ADDR`` or a scope's client host; an
    IPv4 address written as IPv6 (``::ffff:10.0.0.1``) is read as IPv4;
    None when there is none or it is not an address (a Unix socket)."""
    if not raw:
        return None
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def scope_client_ip(scope: Mapping[str, Any]) -> IPAddress | None:
    """``client_ip`` of an ASGI scope (after uvicorn's proxy-header resolution)."""
    client = scope.get("client")
    return client_ip(str(client[0])) if client else None


def within(address: IPAddress | None, networks: Iterable[IPNetwork]) -> bool:
    """Whether the address is in one of the networks (never, for no address)."""
    return address is not None and any(address in network for network in networks)
