"""The nginx site of chatapp, rendered from ``templates/deploy/nginx.conf``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from django.template import Context, Engine

from chatapp.core.files import FILE_POLICY

TEMPLATES = Path(__file__).parent / "templates"

_SERVER_NAME = re.compile(r"^(\*\.)?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$|^_$")
_UPSTREAM = re.compile(r"^(\[[0-9A-Fa-f:]+\]|[A-Za-z0-9.-]+):\d{1,5}$|^unix:/[^\s;{}]+$")
_DURATION = re.compile(r"^\d+(ms|s|m|h)?$")
_UNSAFE = re.compile(r"[\s;{}'\"$\\]")


class DeployError(ValueError):
    """A value that cannot go into a rendered file; the message names it."""


@dataclass(frozen=True)
class NginxSite:
    server_names: list[str]
    upstreams: list[str]
    cert: Path
    key: Path
    static_root: Path
    # None: uploads are in the shared bucket (MEDIA_STORAGE_URL), the app serves /media/.
    media_root: Path | None = None
    http_port: int = 80
    https_port: int = 443
    listen_address: str = ""  # all addresses (and IPv6) when empty
    ws_read_timeout: str = "60s"
    acme_root: Path | None = None  # served over plain HTTP for certbot --webroot

    def check(self) -> None:
        if not self.server_names:
            raise DeployError("--server-name: give at least one host name")
        for name in self.server_names:
            if not _SERVER_NAME.match(name):
                raise DeployError(f"--server-name: {name!r} is not a host name")
        if not self.upstreams:
            raise DeployError("--upstream: give at least one HOST:PORT of a chatapp serve")
        for upstream in self.upstreams:
            if not _UPSTREAM.match(upstream):
                raise DeployError(f"--upstream: {upstream!r} is not HOST:PORT or unix:/PATH")
        for flag, path in (
            ("--cert", self.cert),
            ("--key", self.key),
            ("--static-root", self.static_root),
            ("--media-root", self.media_root),
            *((("--acme-root", self.acme_root),) if self.acme_root else ()),
        ):
            if path is None:
                continue
            if not path.is_absolute() or _UNSAFE.search(str(path)):
                raise DeployError(f"{flag}: {str(path)!r} must be an absolute path without spaces")
        for flag, port in (("--http-port", self.http_port), ("--https-port", self.https_port)):
            if not 1 <= port <= 65535:
                raise DeployError(f"{flag}: {port} is not a port")
        if self.listen_address and not re.match(r"^[0-9.]+$", self.listen_address):
            raise DeployError(f"--listen-address: {self.listen_address!r} is not an IPv4 address")
        if not _DURATION.match(self.ws_read_timeout):
            raise DeployError(f"--ws-read-timeout: {self.ws_read_timeout!r} is not like 60s")


def render_nginx(site: NginxSite) -> str:
    site.check()
    engine = Engine(dirs=[str(TEMPLATES)], autoescape=False)
    context = {
        "server_names": site.server_names,
        "upstreams": site.upstreams,
        "cert": site.cert,
        "key": site.key,
        "static_root": str(site.static_root).rstrip("/"),
        "media_root": str(site.media_root).rstrip("/") if site.media_root else "",
        "http_port": site.http_port,
        "https_port": site.https_port,
        "https_port_suffix": "" if site.https_port == 443 else f":{site.https_port}",
        "listen": f"{site.listen_address}:" if site.listen_address else "",
        "ipv6": not site.listen_address,
        "ws_read_timeout": site.ws_read_timeout,
        "acme_root": str(site.acme_root).rstrip("/") if site.acme_root else "",
        "file_policy": FILE_POLICY,
    }
    # Not HTML: a Context escapes by default, which would turn the quotes of the
    # file policy into &#x27; and the header into an invalid policy.
    return engine.get_template("deploy/nginx.conf").render(Context(context, autoescape=False))
