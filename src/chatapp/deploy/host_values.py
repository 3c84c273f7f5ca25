"""The values of a host install (``chatapp deploy install``), read and checked:
the environment first, then the previous install's ``install.conf``, then
defaults. A value that can not be used is a DeployError naming its variable.
Also the format of the files that hold them (``KEY=value``, as systemd's
EnvironmentFile reads it)."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from chatapp.deploy.nginx import DeployError, NginxSite

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
LOCAL_DB_HOST = "127.0.0.1:5432"  # Debian's first PostgreSQL cluster
DEFAULT_PORTS = "8001,8002"

_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
# What goes into the environment file unquoted; other values are single-quoted.
_PLAIN = re.compile(r"^[A-Za-z0-9_@%+=:,./-]*$")
_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


def refuse(name: str, value: str, why: str) -> DeployError:
    return DeployError(f"{name}={value!r} is not accepted: {why}")


@dataclass(frozen=True)
class Host:
    """What the operator chose, checked."""

    server_names: list[str]
    ports: list[int]
    user: str
    venv: Path
    data_dir: Path
    etc_dir: Path
    database_url: str
    redis_url: str
    tls_cert: Path | None
    tls_key: Path | None
    http_port: int
    https_port: int
    listen_address: str

    @property
    def static_root(self) -> Path:
        return self.data_dir / "static"

    @property
    def media_root(self) -> Path:
        return self.data_dir / "media"

    @property
    def acme_root(self) -> Path:
        return self.data_dir / "acme"

    @property
    def env_file(self) -> Path:
        return self.etc_dir / "chatapp.env"

    @property
    def install_conf(self) -> Path:
        return self.etc_dir / "install.conf"

    @property
    def cert(self) -> Path:
        return self.tls_cert or self.etc_dir / "tls" / "cert.pem"

    @property
    def key(self) -> Path:
        return self.tls_key or self.etc_dir / "tls" / "key.pem"

    @property
    def origins(self) -> list[str]:
        suffix = "" if self.https_port == 443 else f":{self.https_port}"
        return [f"https://{name}{suffix}" for name in self.server_names if "*" not in name]


def read_env_file(path: Path) -> dict[str, str]:
    return parse_env(path.read_text(), str(path)) if path.exists() else {}


def parse_env(text: str, where: str) -> dict[str, str]:
    """``KEY=value`` lines as systemd's EnvironmentFile reads the ones we write
    (plain or single-quoted values); comments and blank lines skipped."""
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            raise DeployError(f"{where}:{number}: not a KEY=value line")
        key, value = match.groups()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def env_line(name: str, value: str) -> str:
    if any(c in value for c in "'\\\n\r") or not value.isprintable():
        raise refuse(name, value, "no quotes, backslashes or control characters")
    return f"{name}={value}" if _PLAIN.match(value) else f"{name}='{value}'"


class Values:
    """The environment first, then the previous install's choices, then defaults."""

    def __init__(self, environ: Mapping[str, str], saved: Mapping[str, str]) -> None:
        self.environ = environ
        self.saved = saved

    def get(self, name: str, default: str = "") -> str:
        given = self.environ.get(name, "").strip()
        return given or self.saved.get(name, "").strip() or default

    def path(self, name: str, default: str) -> Path:
        value = self.get(name, default)
        path = Path(value)
        if not path.is_absolute() or re.search(r"[\s;{}'\"$\\%]", value):
            raise refuse(name, value, "an absolute path without spaces, quotes, ; { } $ % or \\")
        return Path(os.path.normpath(value))

    def port(self, name: str, default: int) -> int:
        value = self.get(name, str(default))
        if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= 65535:
            raise refuse(name, value, "a port number, 1 to 65535")
        return int(value)


def etc_dir_of(environ: Mapping[str, str]) -> Path:
    return Values(environ, {}).path("CHATAPP_ETC_DIR", "/etc/chatapp")


def read_host(environ: Mapping[str, str], root: Path) -> tuple[Host, dict[str, str]]:
    """The checked values, and the previous environment file's (under ``root``)."""
    etc_dir = etc_dir_of(environ)
    saved = read_env_file(under(root, etc_dir / "install.conf"))
    values = Values(environ, saved)

    names_value = values.get("CHATAPP_SERVER_NAME")
    if not names_value:
        raise DeployError(
            "CHATAPP_SERVER_NAME is not set: give the host name(s) clients use, "
            "e.g. CHATAPP_SERVER_NAME=chat.example.com"
        )
    server_names = [name for name in re.split(r"[\s,]+", names_value) if name]
    for name in server_names:
        try:
            NginxSite(
                [name], ["127.0.0.1:1"], Path("/c"), Path("/k"), Path("/s"), Path("/m")
            ).check()
        except DeployError:
            raise refuse(
                "CHATAPP_SERVER_NAME", names_value, f"{name!r} is not a host name"
            ) from None
        if name == "_":
            raise refuse("CHATAPP_SERVER_NAME", names_value, "give a real host name, not _")

    http_port = values.port("CHATAPP_HTTP_PORT", 80)
    https_port = values.port("CHATAPP_HTTPS_PORT", 443)
    ports_value = values.get("CHATAPP_PORTS", DEFAULT_PORTS)
    ports: list[int] = []
    for word in (w for w in re.split(r"[\s,]+", ports_value) if w):
        if not word.isascii() or not word.isdigit() or not 1024 <= int(word) <= 65535:
            raise refuse("CHATAPP_PORTS", ports_value, "worker ports from 1024 to 65535")
        if int(word) in ports or int(word) in (http_port, https_port):
            raise refuse("CHATAPP_PORTS", ports_value, f"port {word} is taken twice")
        ports.append(int(word))
    if not ports:
        raise refuse("CHATAPP_PORTS", ports_value, "give at least one worker port")

    user = values.get("CHATAPP_USER", "chatapp")
    if not _USER.match(user) or user == "root":
        raise refuse("CHATAPP_USER", user, "a system user name (a-z, 0-9, _ and -), not root")

    listen_address = values.get("CHATAPP_LISTEN_ADDRESS")
    if listen_address and not re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", listen_address):
        raise refuse("CHATAPP_LISTEN_ADDRESS", listen_address, "an IPv4 address, or empty for all")

    cert_value, key_value = values.get("CHATAPP_TLS_CERT"), values.get("CHATAPP_TLS_KEY")
    tls_cert = tls_key = None
    if cert_value or key_value:
        if not cert_value:
            raise DeployError("CHATAPP_TLS_CERT is not set: CHATAPP_TLS_KEY needs its certificate")
        if not key_value:
            raise DeployError("CHATAPP_TLS_KEY is not set: CHATAPP_TLS_CERT needs its key")
        tls_cert = values.path("CHATAPP_TLS_CERT", "")
        tls_key = values.path("CHATAPP_TLS_KEY", "")
        check_certificate(tls_cert, tls_key)

    previous_env = read_env_file(under(root, etc_dir / "chatapp.env"))
    database_url = values.get("DATABASE_URL") or previous_env.get("DATABASE_URL", "")
    if not database_url:
        password = secrets.token_urlsafe(24)
        database_url = f"postgres://{user}:{password}@{LOCAL_DB_HOST}/{user}"
    check_url("DATABASE_URL", database_url, {"postgres", "postgresql", "pgsql"})
    redis_url = (
        values.get("REDIS_URL") or previous_env.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    )
    check_url("REDIS_URL", redis_url, {"redis", "rediss"})

    host = Host(
        server_names=server_names,
        ports=ports,
        user=user,
        venv=values.path("CHATAPP_VENV", "/opt/chatapp/current"),
        data_dir=values.path("CHATAPP_DATA_DIR", "/var/lib/chatapp"),
        etc_dir=etc_dir,
        database_url=database_url,
        redis_url=redis_url,
        tls_cert=tls_cert,
        tls_key=tls_key,
        http_port=http_port,
        https_port=https_port,
        listen_address=listen_address,
    )
    return host, previous_env


def check_url(name: str, url: str, schemes: set[str]) -> None:
    parts = urlsplit(url)
    if parts.scheme not in schemes or not parts.hostname:
        raise refuse(name, url, f"a URL like {sorted(schemes)[-1]}://user:password@host:port/name")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise refuse(name, url, "its port is not a number") from None
    env_line(name, url)


def check_certificate(cert: Path, key: Path) -> None:
    """Both readable PEM files, the key the certificate's."""
    for name, path in (("CHATAPP_TLS_CERT", cert), ("CHATAPP_TLS_KEY", key)):
        if not path.is_file():
            raise refuse(name, str(path), "no such file")
    public = []
    for name, command in (
        ("CHATAPP_TLS_CERT", [OPENSSL, "x509", "-in", str(cert), "-noout", "-pubkey"]),
        ("CHATAPP_TLS_KEY", [OPENSSL, "pkey", "-in", str(key), "-pubout"]),
    ):
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode != 0:
            raise refuse(name, str(cert if "CERT" in name else key), "not a PEM file openssl reads")
        public.append(result.stdout)
    if public[0] != public[1]:
        raise refuse("CHATAPP_TLS_KEY", str(key), f"it is not the key of {cert}")


def under(root: Path, path: Path) -> Path:
    return root / path.relative_to("/")
