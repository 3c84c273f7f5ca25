"""Screenshots of the main pages at desktop and phone widths (``make screenshots``).

Starts its own ``chatapp serve`` (on a fresh database of ``DATABASE_URL`` when set,
else the embedded PostgreSQL in a temporary folder; with ``REDIS_URL``'s Redis when
set), fills it with two friends and a few Lobby and private messages, photographs
the pages in Debian's Chromium and stops the server by PID.

    .venv/bin/python -m tests.browser.screenshots [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, Error, Page, ViewportSize, sync_playwright

from tests.browser.support import (
    DESKTOP,
    PHONE,
    LiveServer,
    PageProblems,
    fresh_database,
    launch_chromium,
    session_context,
)
from tests.e2e.client import Tab, register

OUT = Path("docs/screenshots")
WIDTHS: dict[str, ViewportSize] = {"desktop": DESKTOP, "phone": PHONE}

LOBBY_TALK = (
    ("alice", "Morning, everyone! Anyone around?"),
    ("bob", "Hi Alice, just got here."),
    ("alice", "Did you see the release notes? Private chats are live."),
    ("bob", "Yes! Trying them right now."),
)
PRIVATE_TALK = (
    ("alice", "Hey Bob, lunch at 12:30?"),
    ("bob", "Sounds good. The usual place?"),
    ("alice", "Sure, see you there."),
)


@dataclass
class Scene:
    sessions: dict[str, str]  # username -> sessionid cookie
    private_room: int


class Api:
    def __init__(self, base: str, session: str) -> None:
        self.client = httpx.AsyncClient(base_url=base, cookies={"sessionid": session}, timeout=20)

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        token = (await self.client.get("/api/csrf")).json()["csrf_token"]
        response = await self.client.request(
            method, path, json=body, headers={"X-CSRFToken": token}
        )
        response.raise_for_status()
        return response.json()

    async def close(self) -> None:
        await self.client.aclose()


async def furnish(base: str) -> Scene:
    """Two friends, a Lobby conversation and a private one, through API and sockets."""
    sessions = {name: await register(base, name) for name in ("alice", "bob")}
    alice, bob = Api(base, sessions["alice"]), Api(base, sessions["bob"])
    tabs = {name: await Tab.open(base, session) for name, session in sessions.items()}
    try:
        bob_id = (await alice.call("GET", "/api/users?q=bob"))["results"][0]["id"]
        request = await alice.call("POST", "/api/friend-requests", {"to": bob_id})
        await bob.call("POST", f"/api/friend-requests/{request['id']}/accept")
        private = (await alice.call("POST", "/api/rooms/private", {"user": bob_id}))["id"]
        lobby = next(r["id"] for r in tabs["alice"].hello["rooms"] if r["kind"] == "public")
        for room, talk in ((lobby, LOBBY_TALK), (private, PRIVATE_TALK)):
            for number, (name, body) in enumerate(talk):
                await tabs[name].send(
                    {"type": "send", "room": room, "body": body, "client_id": f"s{room}-{number}"}
                )
                await tabs[name].recv_type("ack")
        return Scene(sessions, private)
    finally:
        for tab in tabs.values():
            await tab.close()
        await alice.close()
        await bob.close()


def settle(page: Page) -> None:
    page.wait_for_load_state("networkidle")
    page.evaluate("document.fonts.ready.then(() => true)")


def photograph(browser: Browser, base: str, scene: Scene, out: Path) -> list[Path]:
    problems = PageProblems()
    written: list[Path] = []

    def shot(page: Page, name: str, width: str) -> None:
        path = out / f"{name}-{width}.png"
        page.screenshot(path=str(path))
        written.append(path)

    for width, viewport in WIDTHS.items():
        anonymous = browser.new_context(base_url=base, viewport=viewport)
        problems.watch(anonymous)
        page = anonymous.new_page()
        page.goto("/accounts/login/")
        settle(page)
        shot(page, "login", width)
        anonymous.close()

        context = session_context(browser, base, scene.sessions["alice"], viewport=viewport)
        problems.watch(context)
        page = context.new_page()
        for name, path in (
            ("home", "/"),
            ("private-chat", f"/chat/{scene.private_room}/"),
            ("friends", "/friends/"),
            ("profile-edit", "/accounts/profile/"),
        ):
            page.goto(path)
            settle(page)
            shot(page, name, width)

        page.goto("/")
        settle(page)
        bell = page.get_by_role("button", name="Notifications")
        if bell.count():
            bell.first.click()
            page.wait_for_timeout(300)  # let the dropdown finish opening
            shot(page, "notifications", width)
        else:
            print(f"screenshots: no button named Notifications; skipped notifications-{width}")
        context.close()

    for problem in problems.problems:
        print(f"screenshots: warning: {problem}", file=sys.stderr)
    return written


@contextmanager
def database() -> Iterator[str | None]:
    """A fresh database on DATABASE_URL's server, or None for the embedded one."""
    admin_url = os.environ.get("DATABASE_URL", "")
    with fresh_database(admin_url, prefix="chatapp_shots") if admin_url else nullcontext() as url:
        yield url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.browser.screenshots")
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder for PNGs (default {OUT})")
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="chatapp-shots-") as tmp, database() as url:
        folder = Path(tmp)
        server = LiveServer.in_folder(folder, url)
        try:
            server.start()
            scene = asyncio.run(furnish(server.base))
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                try:
                    written = photograph(browser, server.base, scene, out)
                finally:
                    browser.close()
        except (Error, httpx.HTTPError, OSError):
            print(server.log()[-4000:], file=sys.stderr)
            raise
        finally:
            server.stop()

    print(f"screenshots: wrote {len(written)} files to {out.resolve()}:")
    for path in written:
        print(f"  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
