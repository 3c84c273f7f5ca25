"""Plain helpers for driving Debian's Chromium with Playwright against a real
``chatapp serve`` process. The pytest fixtures (conftest.py) and the screenshot
script (screenshots.py) are both built on these; nothing here imports pytest.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol
from urllib.parse import urlparse, urlunparse

import psycopg
from playwright.sync_api import (
    APIResponse,
    Browser,
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Page,
    Playwright,
    ViewportSize,
    WebError,
)

from tests.e2e.client import PASSWORD
from tests.e2e.server import Server, base_env, start_server, stop

DEFAULT_CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling Google's hosts,
# which a closed network refuses; --headless etc. make it start anywhere, as root too.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}

# What Chromium logs while the server is deliberately down: the socket's failed
# reconnects and any fetch that finds nobody listening.
SERVER_DOWN_MESSAGES = (
    r"WebSocket connection to '.*' failed",
    r"Failed to load resource: net::ERR_CONNECTION_REFUSED",
)


def chromium_path() -> str:
    """The Chromium to drive: ``$CHROMIUM``, else Debian's."""
    return os.environ.get("CHROMIUM") or DEFAULT_CHROMIUM


def launch_chromium(playwright: Playwright) -> Browser:
    path = chromium_path()
    if not Path(path).is_file():
        raise FileNotFoundError(
            f"no Chromium at {path}: `apt-get install chromium` or set CHROMIUM "
            "(never `playwright install`)"
        )
    return playwright.chromium.launch(executable_path=path, args=list(CHROMIUM_ARGS))


# --- the server ------------------------------------------------------------------------


@contextmanager
def fresh_database(admin_url: str, prefix: str = "chatapp_browser") -> Iterator[str]:
    """A new, empty database on the PostgreSQL of ``admin_url``, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = urlunparse(urlparse(admin_url)._replace(scheme="postgresql"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunparse(urlparse(admin_url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server_env(
    *, data_dir: Path, database_url: str | None, redis_url: str | None, **overrides: str
) -> dict[str, str]:
    """The environment of a server under test. Without ``database_url`` the server
    starts the embedded PostgreSQL in ``data_dir``; without ``redis_url`` it uses the
    in-memory channel layer (one worker)."""
    env = base_env(SECRET_KEY="browser-" + uuid.uuid4().hex * 2, CHATAPP_DATA_DIR=str(data_dir))
    if database_url:
        env["DATABASE_URL"] = database_url
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update(overrides)
    return env


@dataclass
class LiveServer:
    """One ``chatapp serve`` process that can be stopped and started again on the
    same port, so pages that were open reconnect to the same URL."""

    env: dict[str, str]
    log_path: Path
    port: int | None = None
    args: tuple[str, ...] = ("--migrate",)
    server: Server | None = field(default=None, repr=False)

    @classmethod
    def in_folder(cls, folder: Path, database_url: str | None) -> LiveServer:
        """A server keeping its files and log in ``folder``, on ``database_url``
        (else the embedded PostgreSQL) and ``$REDIS_URL``'s Redis when set."""
        env = server_env(
            data_dir=folder / "data",
            database_url=database_url,
            redis_url=os.environ.get("REDIS_URL") or None,
        )
        return cls(env=env, log_path=folder / "server.log")

    @property
    def base(self) -> str:
        if self.port is None:
            raise RuntimeError("the server has never been started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.server is not None and self.server.process.poll() is None

    def start(self) -> None:
        if self.running:
            return
        self.server = start_server(
            env=self.env, log_path=self.log_path, args=self.args, port=self.port
        )
        self.port = int(urlparse(self.server.base).port or 0)

    def stop(self) -> None:
        """SIGTERM by PID (SIGKILL to its process group after a grace period)."""
        if self.server is not None:
            stop(self.server.process)
            self.server = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


# --- users and pages -------------------------------------------------------------------


class BrowserUser(NamedTuple):
    """A registered user's own browser profile (cookies), with one open page."""

    context: BrowserContext
    page: Page
    username: str


class UserFactory(Protocol):
    """The ``browser_user`` fixture: registers a user in a fresh, watched context."""

    def __call__(
        self, *, username: str | None = None, viewport: ViewportSize | None = None
    ) -> BrowserUser: ...


def api(
    context: BrowserContext, base: str, method: str, path: str, data: Any = None
) -> APIResponse:
    """Call the JSON API as the context's user (its cookies), with a CSRF token and
    the Origin header a page's own fetch would send, so Django checks both."""
    token = context.request.get(f"{base}/api/csrf").json()["csrf_token"]
    return context.request.fetch(
        f"{base}{path}",
        method=method,
        data=data,
        headers={"X-CSRFToken": token, "Origin": base},
    )


def unique_username(prefix: str = "u") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def new_user(
    browser: Browser,
    base: str,
    *,
    username: str | None = None,
    viewport: ViewportSize | None = None,
) -> BrowserUser:
    """A fresh context holding the session of a newly registered user (through the
    API, from inside the context), and a blank page in it."""
    context = browser.new_context(base_url=base, viewport=viewport or DESKTOP)
    try:
        name = username or unique_username()
        response = api(
            context,
            base,
            "POST",
            "/api/auth/register",
            {"username": name, "email": f"{name}@example.com", "password": PASSWORD},
        )
        if response.status != 201:
            raise AssertionError(f"registering {name}: {response.status} {response.text()}")
        return BrowserUser(context, context.new_page(), name)
    except BaseException:
        context.close()
        raise


def session_context(
    browser: Browser, base: str, session: str, *, viewport: ViewportSize | None = None
) -> BrowserContext:
    """A context logged in with an existing ``sessionid`` cookie value."""
    context = browser.new_context(base_url=base, viewport=viewport or DESKTOP)
    context.add_cookies([{"name": "sessionid", "value": session, "url": base}])
    return context


# --- what a page complains about -------------------------------------------------------


@dataclass
class PageProblems:
    """Console errors, uncaught exceptions and dialogs of every context it watches.
    A test that expects some console errors says so with ``allow``."""

    problems: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def watch(self, context: BrowserContext) -> None:
        context.on("console", self._on_console)
        context.on("weberror", self._on_weberror)
        context.on("dialog", self._on_dialog)

    def allow(self, *patterns: str) -> None:
        """Tolerate console errors matching any of these regular expressions."""
        self.allowed.extend(re.compile(pattern) for pattern in patterns)

    def allow_server_down(self) -> None:
        """Tolerate what Chromium logs while the server is deliberately stopped."""
        self.allow(*SERVER_DOWN_MESSAGES)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        text = message.text
        if any(pattern.search(text) for pattern in self.allowed):
            return
        where = message.location.get("url", "") if message.location else ""
        self.problems.append(
            f"console error on {message.page and message.page.url}: {text}"
            + (f" ({where})" if where else "")
        )

    def _on_weberror(self, error: WebError) -> None:
        page = error.page.url if error.page else "?"
        self.problems.append(f"uncaught error on {page}: {error.error}")

    def _on_dialog(self, dialog: Dialog) -> None:
        self.problems.append(
            f"{dialog.type} dialog on {dialog.page and dialog.page.url}: {dialog.message!r}"
        )
        dialog.dismiss()
