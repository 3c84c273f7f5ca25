"""Locust: chat users in the Lobby, one API token each (docs/loadtest.md).

Each virtual user takes the next row of the CSV made by
``chatapp loadtest users N --out users.csv``, opens ``/ws/`` with
``Authorization: Bearer <token>``, reads ``hello``, subscribes to the public
room, and sends at ``--send-rate`` messages a second with a unique
``client_id`` each. What it measures goes to Locust's statistics as requests of
type ``WS``:

- ``connect``: the WebSocket handshake;
- ``subscribe``: from ``hello`` to ``subscribed``;
- ``send→ack``: from a send to its ``ack`` (the message is stored); an ``error``
  frame for it, or no ack within ``--reply-timeout``, is a failure;
- ``send→receive``: from a send to the user's own message coming back as a
  ``message`` frame, the way every other member of the room gets it; none
  within ``--reply-timeout`` is a failure;
- ``socket``: a failure each time the server closes a socket (with its code);
  the user then connects again and subscribes from the last seq it saw.

    locust -f loadtest/locustfile.py --host http://127.0.0.1:8000 --users-csv users.csv
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import json
import random
import time
import uuid
from argparse import Namespace
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import gevent
from locust import User, events, task
from locust.env import Environment
from locust.runners import WorkerRunner
from locust.user.wait_time import constant_throughput
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

CONNECT_TIMEOUT = 10.0  # s for the handshake and for each frame waited for while joining
MAX_FRAME = 64 * 1024  # the server's own frame limit


def positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError(f"{text} is not above 0")
    return value


@events.init_command_line_parser.add_listener
def _add_arguments(parser: Any) -> None:
    group = parser.add_argument_group("chatapp")
    group.add_argument(
        "--users-csv",
        env_var="CHATAPP_USERS_CSV",
        default="users.csv",
        help="CSV from `chatapp loadtest users` (username,user_id,token); one row per user",
    )
    group.add_argument(
        "--send-rate",
        env_var="CHATAPP_SEND_RATE",
        type=positive,
        default=1.0,
        help="messages a second per user (the server allows a burst of 20, then 5 a second)",
    )
    group.add_argument(
        "--reply-timeout",
        env_var="CHATAPP_REPLY_TIMEOUT",
        type=positive,
        default=10.0,
        help="seconds before a missing ack or echo counts as a failure",
    )


class TokenRows:
    """The CSV's rows, handed out in order. With several worker processes,
    worker i of n takes rows i, i + n, i + 2n ... so no two users share a row
    (a token has its own send limit)."""

    def __init__(self, path: str, first: int, stride: int) -> None:
        with open(path, newline="") as handle:
            self.rows = list(csv.DictReader(handle))
        if not self.rows:
            raise ValueError(f"{path} has no users; make them with `chatapp loadtest users`")
        self.indexes: Iterator[int] = itertools.count(first, stride)

    def take(self) -> dict[str, str]:
        # Past the end it starts over: more virtual users than rows share tokens.
        return self.rows[next(self.indexes) % len(self.rows)]


def options_of(environment: Environment) -> Namespace:
    if environment.parsed_options is None:
        raise RuntimeError("run this file with the locust command")
    return environment.parsed_options


def token_rows(environment: Environment) -> TokenRows:
    """This process's rows, read once (gevent runs every user in one thread)."""
    rows: TokenRows | None = getattr(environment, "chatapp_rows", None)
    if rows is None:
        options = options_of(environment)
        first, stride = 0, 1
        runner = environment.runner
        if isinstance(runner, WorkerRunner):
            # --processes N tells the count on one machine; workers on several
            # machines are each given --expect-workers TOTAL (docs/loadtest.md).
            workers = max(getattr(options, "processes", 0) or 0, options.expect_workers or 1)
            first, stride = max(runner.worker_index, 0), workers
        rows = TokenRows(options.users_csv, first, stride)
        environment.chatapp_rows = rows  # type: ignore[attr-defined]
    return rows


def socket_url(host: str) -> str:
    """http(s)://host[:port] -> ws(s)://host[:port]/ws/"""
    base = host.rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base.removeprefix("https://")
    elif base.startswith("http://"):
        base = "ws://" + base.removeprefix("http://")
    return base + "/ws/"


class ServerError(Exception):
    """An ``error`` frame about one of this user's sends."""


class LobbyUser(User):
    """One chat user: one socket, subscribed to the Lobby, sending at a set rate."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        options = options_of(environment)
        self.send_rate: float = options.send_rate
        self.reply_timeout: float = options.reply_timeout
        self._pace = constant_throughput(self.send_rate)
        self.ws: ClientConnection | None = None
        self.closing = ExitStack()  # the socket's context, closed on the way out
        self.room = 0
        self.last_seq: int | None = None
        self.sent = 0
        # client_id -> when it was first sent (perf_counter) and the frame, until
        # its ack; client_id -> when it was sent, until it comes back as a message.
        self.awaiting_ack: dict[str, tuple[float, str]] = {}
        self.awaiting_echo: dict[str, float] = {}
        self.handlers: dict[Any, Callable[[dict[str, Any]], None]] = {
            "ack": self._on_ack,
            "message": self._on_message,
            "error": self._on_error,
        }

    def wait_time(self) -> float:
        return self._pace(self)

    def on_start(self) -> None:
        row = token_rows(self.environment).take()
        self.username, self.token = row["username"], row["token"]
        with contextlib.suppress(Exception):  # reported as a failure; the first task tries again
            self._join()
        # The first send at a random point of the send period, not at spawn:
        # users spawned together would otherwise send together ever after.
        gevent.sleep(random.uniform(0, 1 / self.send_rate))  # noqa: S311 - not a secret

    def on_stop(self) -> None:
        # What is still in flight when the run ends is neither a success nor a failure.
        self._close()

    @task
    def send_message(self) -> None:
        ws = self.ws or self._join()
        self._expire()
        self.sent += 1
        client_id = f"{self.username}.{self.sent}.{uuid.uuid4().hex[:8]}"
        frame = {
            "type": "send",
            "room": self.room,
            "body": f"load test {self.sent} from {self.username}",
            "client_id": client_id,
        }
        now, text = time.perf_counter(), json.dumps(frame)
        self.awaiting_ack[client_id] = (now, text)
        self.awaiting_echo[client_id] = now
        # If it is closed, the reader reports it; the next task joins again and resends.
        with contextlib.suppress(ConnectionClosed):
            ws.send(text)

    # --- joining ---------------------------------------------------------------

    def _join(self) -> ClientConnection:
        """Connect, read hello, subscribe to the public room (from the last seq
        seen, after a reconnect), then start reading."""
        self._close()
        started = time.perf_counter()
        try:
            ws = self.closing.enter_context(
                connect(
                    socket_url(self.host or ""),
                    additional_headers={"Authorization": f"Bearer {self.token}"},
                    open_timeout=CONNECT_TIMEOUT,
                    max_size=MAX_FRAME,
                    compression=None,
                )
            )
        except Exception as exc:
            self._fire("connect", started, exc)
            raise
        self._fire("connect", started)
        started = time.perf_counter()
        try:
            hello = json.loads(ws.recv(timeout=CONNECT_TIMEOUT))
            if hello.get("type") != "hello":
                raise ServerError(f"expected hello, got {hello.get('type')}")
            self.room = next(room["id"] for room in hello["rooms"] if room["kind"] == "public")
            subscribe = {"type": "subscribe", "room": self.room, "after_seq": self.last_seq}
            ws.send(json.dumps(subscribe))
            while True:
                frame = json.loads(ws.recv(timeout=CONNECT_TIMEOUT))
                if frame.get("type") == "subscribed" and frame.get("room") == self.room:
                    break
                self._handle(frame)
        except Exception as exc:
            self.closing.close()
            self._fire("subscribe", started, exc)
            raise
        self._fire("subscribe", started)
        self.ws = ws
        gevent.spawn(self._read, ws)  # it ends when the socket closes
        # Sends a closed socket left unacknowledged go again with the same
        # client_id: the server stores each once and answers with its ack.
        for _, text in list(self.awaiting_ack.values()):
            ws.send(text)
        return ws

    def _close(self) -> None:
        # Closing the socket ends its reader. Killing the reader instead, inside
        # websockets' receive, made libev abort the process at exit (a watcher
        # left on a closed fd) in one run out of two at 100 users.
        self.ws = None
        self.closing.close()

    # --- reading -------------------------------------------------------------

    def _read(self, ws: ClientConnection) -> None:
        try:
            for raw in ws:
                self._handle(json.loads(raw))
        except ConnectionClosed as exc:
            if self.ws is ws:  # not closed by on_stop
                code = exc.rcvd.code if exc.rcvd else "none"
                self._fire("socket", time.perf_counter(), ConnectionError(f"closed: {code}"))
                self.ws = None

    def _handle(self, frame: dict[str, Any]) -> None:
        handler = self.handlers.get(frame.get("type"))
        if handler is not None:
            handler(frame)

    def _on_ack(self, frame: dict[str, Any]) -> None:
        unacked = self.awaiting_ack.pop(frame.get("client_id") or "", None)
        if unacked is not None:
            self._fire("send→ack", unacked[0])

    def _on_message(self, frame: dict[str, Any]) -> None:
        message = frame["message"]
        if message["room"] == self.room:
            self.last_seq = max(self.last_seq or 0, message["seq"])
        sent = self.awaiting_echo.pop(message.get("client_id") or "", None)
        if sent is not None:
            self._fire("send→receive", sent)

    def _on_error(self, frame: dict[str, Any]) -> None:
        ref = frame.get("ref") or ""
        unacked = self.awaiting_ack.pop(ref, None)
        self.awaiting_echo.pop(ref, None)
        error = ServerError(f"{frame.get('code')}: {frame.get('detail')}")
        if unacked is not None:
            self._fire("send→ack", unacked[0], error)
        else:
            self._fire("error", time.perf_counter(), error)

    def _expire(self) -> None:
        """Fail the sends whose ack or echo is overdue (oldest first: dicts keep order)."""
        deadline = time.perf_counter() - self.reply_timeout
        overdue = TimeoutError(f"none within {self.reply_timeout:g} s")
        while self.awaiting_ack:
            client_id, (sent, _) = next(iter(self.awaiting_ack.items()))
            if sent > deadline:
                break
            del self.awaiting_ack[client_id]
            self._fire("send→ack", sent, overdue)
        while self.awaiting_echo:
            client_id, sent = next(iter(self.awaiting_echo.items()))
            if sent > deadline:
                break
            del self.awaiting_echo[client_id]
            self._fire("send→receive", sent, overdue)

    def _fire(self, name: str, started: float, exception: Exception | None = None) -> None:
        self.environment.events.request.fire(
            request_type="WS",
            name=name,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=0,
            exception=exception,
            context={"user": self.username},
        )
