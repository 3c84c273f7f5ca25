"""An echo bot: in the Lobby, it answers every message that names it.

    chatapp tokens create echo --name "echo bot"      # prints the bot's token
    CHATAPP_TOKEN=chat_... python examples/echo_bot.py http://127.0.0.1:8000

"hi @echo" from alice gets "@alice you said: hi @echo". What it shows of the
wire (PROTOCOL.md, "Bots and load testers"):

- the token goes in ``Authorization: Bearer`` on HTTP and on the socket's
  handshake, never in a URL; from the environment, never the command line;
- ``GET /api/me`` tells the bot its own name, ``GET /api/rooms`` the Lobby;
- after a reconnect it subscribes with the last seq it saw, so the server
  sends what it missed, and it misses nothing;
- each answer's ``client_id`` is made from the message it answers: sent
  again (after a reconnect, or by a second copy of the bot on the same
  account), it is stored once and acknowledged again, so nothing is answered
  twice; answers not yet acknowledged when a socket drops are sent again.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import re
import sys
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

log = logging.getLogger("echo_bot")

RECONNECT_FIRST = 0.5  # s; doubled after each failed attempt, with full jitter
RECONNECT_MAX = 10.0
RATE_LIMITED_RETRY = 1.0  # s; the server allows a burst of 20 sends, then 5 a second
MAX_BODY = 4000  # characters, the server's limit
GIVE_UP_CODES = {4401: "the token is not valid (revoked?)", 4403: "forbidden"}


class BotStopped(Exception):
    """The server closed the socket with a code that reconnecting will not fix."""


def socket_url(base: str) -> str:
    """``http(s)://host:port`` -> ``ws(s)://host:port/ws/``."""
    return re.sub(r"^http", "ws", base.rstrip("/")) + "/ws/"


def mentions(body: str, name: str) -> bool:
    """Whether ``body`` names ``@name`` (any case), not as the start of a longer name."""
    pattern = rf"(?<![\w.@-])@{re.escape(name)}(?![\w-]|\.[\w-])"
    return re.search(pattern, body, flags=re.IGNORECASE) is not None


def answer_to(message: dict[str, Any]) -> str:
    return f"@{message['author']['username']} you said: {message['body']}"[:MAX_BODY]


class EchoBot:
    def __init__(self, base: str, token: str) -> None:
        self.base = base.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"}
        self.me: dict[str, Any] = {}
        self.room = 0
        self.last_seq: int | None = None  # the last message seen; None until subscribed once
        self.unacked: dict[str, str] = {}  # client_id -> the send frame, until its ack
        self.retries: set[asyncio.Task[None]] = set()
        self.handlers = {
            "subscribed": self.on_subscribed,
            "message": self.on_message,
            "ack": self.on_ack,
            "error": self.on_error,
        }

    async def start(self) -> None:
        """Learn who the bot is and where the Lobby is, over HTTP."""
        async with httpx.AsyncClient(base_url=self.base, headers=self.headers) as http:
            me = await http.get("/api/me")
            me.raise_for_status()
            rooms = await http.get("/api/rooms")
            rooms.raise_for_status()
        self.me = me.json()
        self.room = next(r["id"] for r in rooms.json()["results"] if r["kind"] == "public")
        log.info("I am @%s; listening in room %d", self.me["username"], self.room)

    async def run(self) -> None:
        """Stay connected: reconnect with backoff, resume from the last seq seen."""
        delay = RECONNECT_FIRST
        while True:
            try:
                async with connect(socket_url(self.base), additional_headers=self.headers) as ws:
                    delay = RECONNECT_FIRST
                    await self.session(ws)
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else None
                if code in GIVE_UP_CODES:
                    raise BotStopped(f"closed with {code}: {GIVE_UP_CODES[code]}") from closed
                log.warning("socket closed (%s); reconnecting", code)
            except (OSError, InvalidHandshake, TimeoutError) as exc:
                log.warning("cannot connect (%s); retrying", exc)
            await asyncio.sleep(random.uniform(0, delay))  # noqa: S311 - jitter, not secrecy
            delay = min(delay * 2, RECONNECT_MAX)

    async def session(self, ws: ClientConnection) -> None:
        hello = json.loads(await ws.recv())
        if hello.get("type") != "hello":
            log.warning("the first frame is %r, not hello", hello.get("type"))
            return
        await ws.send(
            json.dumps({"type": "subscribe", "room": self.room, "after_seq": self.last_seq})
        )
        for frame in list(self.unacked.values()):
            await ws.send(frame)
        async for raw in ws:
            frame = json.loads(raw)
            handler = self.handlers.get(frame.get("type"))
            if handler is not None:
                await handler(ws, frame)

    async def on_subscribed(self, ws: ClientConnection, frame: dict[str, Any]) -> None:
        if self.last_seq is None:
            self.last_seq = frame["last_seq"]
        log.info("subscribed after seq %s", self.last_seq)

    async def on_message(self, ws: ClientConnection, frame: dict[str, Any]) -> None:
        message = frame["message"]
        if message["room"] != self.room or message["seq"] <= (self.last_seq or 0):
            return
        self.last_seq = message["seq"]
        if message["author"]["id"] == self.me["id"]:
            return
        if mentions(message["body"], self.me["username"]):
            client_id = f"echo-{self.room}-{message['seq']}"
            send = {"type": "send", "room": self.room, "body": answer_to(message)}
            self.unacked[client_id] = json.dumps({**send, "client_id": client_id})
            await ws.send(self.unacked[client_id])

    async def on_ack(self, ws: ClientConnection, frame: dict[str, Any]) -> None:
        if self.unacked.pop(frame["client_id"], None) is not None:
            log.info("answered: %s", frame["message"]["body"][:80])

    async def on_error(self, ws: ClientConnection, frame: dict[str, Any]) -> None:
        ref = frame.get("ref")
        if ref in self.unacked and frame.get("code") == "rate_limited":
            task = asyncio.create_task(self.send_again(ws, ref))
            self.retries.add(task)
            task.add_done_callback(self.retries.discard)
            return
        if ref in self.unacked:
            del self.unacked[ref]
        log.warning("error from the server: %s %s", frame.get("code"), frame.get("detail"))

    async def send_again(self, ws: ClientConnection, client_id: str) -> None:
        await asyncio.sleep(RATE_LIMITED_RETRY)
        frame = self.unacked.get(client_id)
        if frame is not None:
            with contextlib.suppress(ConnectionClosed):
                await ws.send(frame)  # if it is closed, the next session sends it


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("base", help="the server, e.g. http://127.0.0.1:8000")
    args = parser.parse_args(argv)
    token = os.environ.get("CHATAPP_TOKEN", "")
    if not token:
        parser.error("set CHATAPP_TOKEN to the bot's API token")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    bot = EchoBot(args.base, token)
    try:
        await bot.start()
        await bot.run()
    except BotStopped as stopped:
        log.error("%s", stopped)
        return 1
    except httpx.HTTPStatusError as exc:
        log.error("%s %s: %d", exc.request.method, exc.request.url, exc.response.status_code)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
