"""The environment, read strictly. Each setting takes the spellings people use
(``true``/``yes``/``on``/``1``, ``info`` as well as ``INFO``, ``1_000``), or
stops the program with one line that names the variable and what it takes:
``chatapp`` prints that line and exits non-zero, without a traceback.

django-environ alone reads ``DEBUG=flase`` as false, ``CHAT_SEND_RATE=5/s``
as 5, and leaves ``LOG_LEVEL=info`` to crash the logging setup.
"""

from __future__ import annotations

import builtins
import ipaddress
import math
import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

TRUE = frozenset({"true", "yes", "on", "1", "t", "y"})
FALSE = frozenset({"false", "no", "off", "0", "f", "n"})
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DATABASE_SCHEMES = ("postgres", "postgresql")
REDIS_SCHEMES = ("redis", "rediss", "unix")
MEDIA_STORAGE_EXAMPLE = (
    "an S3 bucket URL, e.g. s3://chat-media?endpoint_url=https://s3.example.com&region_name=eu-1"
)
# S3's rules for a bucket name that works in both addressing styles.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_KEY_PREFIX = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")
_REGION = re.compile(r"^[a-z0-9][a-z0-9-]*$")
ADDRESSING_STYLES = ("auto", "path", "virtual")
NOTSET = environ.Env.NOTSET


class SettingError(ImproperlyConfigured):
    """A variable of the environment holds a value its setting cannot take
    (or is missing): the message is one line that names it."""

    def __init__(self, var: str, raw: str, takes: str) -> None:
        shown = raw if len(raw) <= 80 else raw[:77] + "..."
        super().__init__(f"{var}={shown!r} is not accepted: use {takes}")
        self.var = var

    @classmethod
    def missing(cls, var: str, why: str) -> SettingError:
        error = cls.__new__(cls)
        ImproperlyConfigured.__init__(error, f"{var} is not set. {why}")
        error.var = var
        return error

    @classmethod
    def conflict(cls, var: str, other: str, why: str) -> SettingError:
        error = cls.__new__(cls)
        ImproperlyConfigured.__init__(error, f"{var} and {other} are both set: use one ({why})")
        error.var = var
        return error


class Env(environ.Env):
    """django-environ's ``Env`` with strict typed reads (all of them named as
    there, so a setting added the usual way is read strictly too)."""

    def _raw(self, var: builtins.str) -> builtins.str | None:
        """The variable's value, or None when it is unset or blank (blank
        means "the default", as in most env files)."""
        raw = self.ENVIRON.get(var)
        if raw is None or not raw.strip():
            return None
        return str(raw)

    def _default(self, var: builtins.str, default: Any) -> Any:
        if default is NOTSET:
            raise SettingError.missing(var, "It has no default.")
        return default

    def bool(self, var: builtins.str, default: Any = NOTSET) -> builtins.bool:
        raw = self._raw(var)
        if raw is None:
            return bool(self._default(var, default))
        word = raw.strip().lower()
        if word in TRUE:
            return True
        if word in FALSE:
            return False
        raise SettingError(var, raw, "true or false (yes/no, on/off, 1/0)")

    def int(
        self,
        var: builtins.str,
        default: Any = NOTSET,
        *,
        minimum: builtins.int | None = None,
        maximum: builtins.int | None = None,
    ) -> builtins.int:
        raw = self._raw(var)
        if raw is None:
            return int(self._default(var, default))
        try:
            value = int(raw.strip())
        except ValueError:
            value = None
        if value is None or not _within(value, minimum, maximum):
            raise SettingError(var, raw, "a whole number" + _range(minimum, maximum))
        return value

    def float(
        self, var: builtins.str, default: Any = NOTSET, *, minimum: builtins.float | None = None
    ) -> builtins.float:
        raw = self._raw(var)
        if raw is None:
            return float(self._default(var, default))
        try:
            value = float(raw.strip())
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or not _within(value, minimum, None):
            raise SettingError(var, raw, "a number" + _range(minimum, None))
        return value

    def list(
        self, var: builtins.str, cast: Any = None, default: Any = NOTSET
    ) -> builtins.list[Any]:
        """Comma-separated, spaces around the items ignored."""
        raw = self._raw(var)
        if raw is None:
            return list(self._default(var, default))
        items = [item.strip() for item in raw.split(",") if item.strip()]
        return [cast(item) for item in items] if cast else items

    def origins(self, var: builtins.str, default: Any = NOTSET) -> builtins.list[builtins.str]:
        """Comma-separated origins, each with its scheme (``https://chat.example.com``)."""
        origins = self.list(var, default=default)
        for origin in origins:
            parts = urlsplit(origin)
            if parts.scheme.lower() not in {"http", "https"} or not parts.netloc:
                raise SettingError(
                    var, origin, "origins with their scheme, e.g. https://chat.example.com"
                )
        return origins

    def choice(
        self, var: builtins.str, choices: tuple[builtins.str, ...], default: builtins.str
    ) -> builtins.str:
        """One of ``choices``, in any case."""
        raw = self._raw(var)
        if raw is None:
            return default
        word = raw.strip().lower()
        if word not in choices:
            raise SettingError(var, raw, " or ".join(choices))
        return word

    def networks(
        self, var: builtins.str, default: builtins.list[builtins.str]
    ) -> builtins.list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        """Comma-separated networks (``10.0.0.0/8``) or addresses (``192.0.2.7``)."""
        items = self.list(var, default=default)
        networks = []
        for item in items:
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise SettingError(
                    var, item, "networks or addresses separated by commas, e.g. 127.0.0.0/8,::1"
                ) from None
        if not networks:
            raise SettingError(var, "", "at least one network, e.g. 127.0.0.0/8,::1")
        return networks

    def log_level(self, var: builtins.str, default: builtins.str) -> builtins.str:
        raw = self._raw(var)
        if raw is None:
            return default
        level = raw.strip().upper()
        if level == "WARN":
            level = "WARNING"
        if level not in LOG_LEVELS:
            raise SettingError(var, raw, ", ".join(LOG_LEVELS) + " (in any case)")
        return level

    def db(
        self, var: builtins.str = "DATABASE_URL", default: Any = NOTSET, engine: Any = None
    ) -> dict[builtins.str, Any]:
        raw = self._raw(var) or ""
        takes = "a PostgreSQL URL, e.g. postgres://user:password@host:5432/name"
        if urlsplit(raw.strip()).scheme.lower() not in DATABASE_SCHEMES:
            raise SettingError(var, raw, takes)
        try:
            config: dict[builtins.str, Any] = self.db_url_config(raw.strip(), engine=engine)
        except Exception as exc:
            raise SettingError(var, raw, takes) from exc
        if not config.get("NAME"):
            raise SettingError(var, raw, takes + " (with the database name)")
        return config

    def email_url(
        self, var: builtins.str = "EMAIL_URL", default: Any = NOTSET, backend: Any = None
    ) -> dict[builtins.str, Any]:
        raw = self._raw(var)
        value = raw.strip() if raw is not None else self._default(var, default)
        try:
            return dict(self.email_url_config(value, backend=backend))
        except Exception as exc:
            schemes = "smtp://, smtp+tls://, smtp+ssl://, consolemail:// or dummymail://"
            raise SettingError(var, raw or "", "a mail URL: " + schemes) from exc

    def redis_url(self, var: builtins.str) -> builtins.str:
        """A Redis URL, or "" when unset."""
        raw = self._raw(var)
        if raw is None:
            return ""
        if not _is_redis_url(raw.strip()):
            raise SettingError(var, raw, "a Redis URL, e.g. redis://127.0.0.1:6379/0")
        return raw.strip()

    def redis_urls(self, var: builtins.str) -> builtins.list[builtins.str]:
        """Comma-separated Redis URLs, each as ``redis_url`` takes it; [] when unset."""
        urls = self.list(var, default=[])
        for url in urls:
            if not _is_redis_url(url):
                raise SettingError(
                    var, url, "Redis URLs joined by commas, e.g. redis://10.0.0.1:6379/0"
                )
        return urls

    def host_ports(
        self, var: builtins.str
    ) -> builtins.list[builtins.tuple[builtins.str, builtins.int]]:
        """Comma-separated ``host:port`` pairs (``[v6]:port`` for IPv6); [] when unset."""
        pairs = []
        for item in self.list(var, default=[]):
            parts = urlsplit("//" + item)
            try:
                host, port = parts.hostname, parts.port
            except ValueError:
                host = port = None
            if not host or not port or parts.path or parts.username or parts.query:
                raise SettingError(
                    var, item, "host:port pairs joined by commas, e.g. 10.0.0.1:26379"
                )
            pairs.append((host, port))
        return pairs

    def media_storage(self, var: builtins.str) -> dict[builtins.str, builtins.str] | None:
        """An S3-compatible bucket for uploads, or None when unset (the local disk).

        ``s3://BUCKET[/PREFIX][?endpoint_url=URL&region_name=R&addressing_style=S]``
        gives django-storages' S3Storage options of the same names (the prefix is
        its ``location``). Credentials stay out of the URL: boto3 reads them from
        ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, a profile or an instance
        role, as every AWS tool does."""
        raw = self._raw(var)
        if raw is None:
            return None
        parts = urlsplit(raw.strip())
        if "@" in parts.netloc:
            # Never echo a secret in the error line.
            shown = raw.replace(parts.netloc.rsplit("@", 1)[0], "***")
            raise SettingError(
                var,
                shown,
                "a URL without credentials; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
            )
        if parts.scheme.lower() != "s3" or not _BUCKET.match(parts.netloc):
            raise SettingError(var, raw, MEDIA_STORAGE_EXAMPLE + " (a lowercase bucket name)")
        options = {"bucket_name": parts.netloc}
        prefix = parts.path.strip("/")
        if prefix:
            if not _KEY_PREFIX.match(prefix) or ".." in prefix.split("/"):
                raise SettingError(var, raw, MEDIA_STORAGE_EXAMPLE + " (a plain key prefix)")
            options["location"] = prefix
        try:
            query = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
        except ValueError as exc:
            raise SettingError(var, raw, MEDIA_STORAGE_EXAMPLE) from exc
        for key, value in query:
            if key in options or not _media_option_ok(key, value):
                raise SettingError(
                    var,
                    raw,
                    MEDIA_STORAGE_EXAMPLE + " (each of endpoint_url=http(s)://HOST[:PORT], "
                    "region_name, addressing_style=" + "|".join(ADDRESSING_STYLES) + " once)",
                )
            options[key] = value
        return options

    def rates(self, var: builtins.str, default: builtins.str) -> builtins.str:
        """Rates of ``limits`` ("20/minute", several joined by ";") or "off"."""
        from limits import parse_many

        raw = self._raw(var)
        if raw is None:
            return default
        if raw.strip().lower() in {"off", "none", "no", "false", "0"}:
            return "off"
        try:
            items = parse_many(raw)
        except ValueError:
            items = []
        if not items or any(item.amount < 1 for item in items):
            raise SettingError(
                var, raw, 'N/second, N/minute, N/hour or N/day, several joined by ";", or off'
            )
        return raw.strip()


def _is_redis_url(raw: str) -> bool:
    parts = urlsplit(raw)
    try:
        parts.port  # noqa: B018  (it raises on a port that is not a number)
    except ValueError:
        return False
    return parts.scheme.lower() in REDIS_SCHEMES and bool(parts.netloc or parts.path)


def _media_option_ok(key: str, value: str) -> bool:
    if key == "endpoint_url":
        endpoint = urlsplit(value)
        try:
            endpoint.port  # noqa: B018  (it raises on a port that is not a number)
        except ValueError:
            return False
        return endpoint.scheme in {"http", "https"} and bool(endpoint.hostname)
    if key == "region_name":
        return bool(_REGION.match(value))
    if key == "addressing_style":
        return value in ADDRESSING_STYLES
    return False


def _within(value: float, minimum: float | None, maximum: float | None) -> bool:
    return (minimum is None or value >= minimum) and (maximum is None or value <= maximum)


def _range(minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f" from {minimum:g} to {maximum:g}"
    if minimum is not None:
        return f" of at least {minimum:g}"
    if maximum is not None:
        return f" of at most {maximum:g}"
    return ""
