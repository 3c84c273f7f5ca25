"""``chatapp bench fanout``: how fast one room fans out to many sockets.

One run, against our server and then against the floor (``floor.py``, a bare
ASGI broadcast server under the same uvicorn flags), with the same client load:

1. Start ``chatapp serve --migrate`` on a free loopback port (or use ``--url``),
   with the per-user send and frame limits raised so one sender may send at
   ``--rate``. DATABASE_URL, REDIS_URL and SECRET_KEY pass through.
2. Register N+1 users over the JSON API (concurrently: hashing a password costs
   about 0.4 s). Their session cookies are kept in a cache file, keyed by the
   database, so later runs against the same database only check them.
3. Spread N receiving sockets over P client processes. Each opens ``/ws/`` with
   the session cookie and this site's Origin, reads ``hello``, subscribes to the
   Lobby and waits for ``subscribed``.
4. Read the server's RSS (its process tree, without PostgreSQL) once idle before
   the receivers connect and again once they are all subscribed and idle.
5. One more socket sends M messages at R a second; each body is the
   ``time.time()`` of its send, so every receiver computes its latency. Each
   receiver checks seq order (gaps, duplicates) and which messages it got.
6. Figures: deliveries/s (message frames received over the time from the first
   send to the last receipt), latency p50/p99/max, messages lost, RSS per socket;
   ours as ratios of the floor's. A table, then JSON, on stdout.

Every process started here is stopped by its PID; every wait is bounded.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import fcntl
import hashlib
import json
import math
import multiprocessing
import os
import resource
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

# Throwaway accounts on a loopback server, not a secret.
PASSWORD = "fan-out bench password 7f3a9c"  # noqa: S105
# Raised so that one sender may send M messages at R a second (defaults: a
# burst of 20 then 5 sends a second, 60 frames then 20 a second).
RAISED_LIMITS = {
    "CHAT_SEND_BURST": "100000",
    "CHAT_SEND_RATE": "100000",
    "WS_FRAME_BURST": "100000",
    "WS_FRAME_RATE": "100000",
}
START_LIMIT = 120.0  # s for a server to answer /healthz
OPEN_LIMIT = 60.0  # s for one socket: handshake, hello, subscribed
CONNECT_PHASE_LIMIT = 300.0  # s for one client process to open all its sockets
QUIET_LIMIT = 90.0  # s to wait for the server to go idle
ACK_LIMIT = 30.0  # s after the last send for the acks
STOP_LIMIT = 20.0  # s for a process to exit on SIGTERM
IDLE_CPU = 0.05  # a server using less than 5 % of a core is idle
POSTGRES_COMMS = ("postgres", "pg_ctl")


class BenchError(RuntimeError):
    pass


def _say(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def _encode(frame: dict[str, Any]) -> str:
    return json.dumps(frame, separators=(",", ":"))


# --- options -----------------------------------------------------------------------


def _default_sessions_path() -> str:
    return str(Path(os.environ.get("CHATAPP_DATA_DIR", "var")) / "bench" / "sessions.json")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="chatapp bench fanout",
        description="Room fan-out: deliveries/s, latency, loss and RSS per socket, "
        "against a bare ASGI broadcast server (the floor).",
    )
    p.add_argument(
        "--url",
        help="target an already running server (http://127.0.0.1:PORT); by default a "
        "`chatapp serve` subprocess is started on a free loopback port",
    )
    p.add_argument("--server-pid", type=int, help="with --url: the server's PID, to read its RSS")
    p.add_argument("--workers", type=int, default=1, help="uvicorn workers of the started server")
    p.add_argument("--clients", type=int, default=1000, help="receiving sockets (N)")
    p.add_argument("--messages", type=int, default=200, help="messages sent (M)")
    p.add_argument("--rate", type=float, default=20.0, help="messages per second (R)")
    p.add_argument("--procs", type=int, default=2, help="client processes")
    p.add_argument("--repeat", type=int, default=1, help="runs; the report gives medians")
    p.add_argument("--json", dest="json_path", help="also write the JSON report here")
    p.add_argument("--skip-floor", action="store_true", help="do not run the floor")
    p.add_argument(
        "--sessions",
        default=_default_sessions_path(),
        help="cache of the bench users' session cookies, keyed by database, reused by "
        "later runs ('' registers fresh users every run; default: %(default)s)",
    )
    p.add_argument("--register-concurrency", type=int, default=8)
    p.add_argument(
        "--connect-concurrency", type=int, default=50, help="handshakes in flight per process"
    )
    p.add_argument(
        "--drain-timeout", type=float, default=30.0, help="s after the last ack to get all"
    )
    p.add_argument(
        "--max-other-cores",
        type=float,
        default=0.25,
        help="a run during which other programs kept more cores than this busy is "
        "discarded and run again (default: %(default)s)",
    )
    p.add_argument(
        "--retries", type=int, default=3, help="at most this many discarded runs (default: 3)"
    )
    p.add_argument("--log-dir", help="server logs (default: a new temporary directory)")
    p.add_argument("--setup-only", action="store_true", help="register the users, then stop")
    return p


# --- processes: start, stop, RSS, CPU ----------------------------------------------------


@dataclass
class Server:
    name: str
    base: str
    pid: int | None
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(name: str, command: list[str], env: dict[str, str], log_path: Path) -> Server:
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    port = command[command.index("--port") + 1]
    server = Server(name, f"http://127.0.0.1:{port}", process.pid, process, log_path)
    try:
        deadline = time.monotonic() + START_LIMIT
        while True:
            if process.poll() is not None:
                raise BenchError(f"{name} exited with {process.returncode}; see {log_path}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{server.base}/healthz", timeout=2).status_code == 200:
                    return server
            if time.monotonic() > deadline:
                raise BenchError(f"{name} did not answer /healthz; see {log_path}")
            time.sleep(0.2)
    except BaseException:
        stop_server(server)
        raise


def stop_server(server: Server) -> None:
    process = server.process
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(STOP_LIMIT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # its own session: only what it started
        process.wait(5)


def start_chatapp(args: argparse.Namespace, log_dir: Path, run: int) -> Server:
    env = dict(os.environ)
    env.update(RAISED_LIMITS)
    env["LOG_LEVEL"] = "WARNING"
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "chatapp",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(args.workers),
        "--migrate",
        "--log-level",
        "warning",
    ]
    _say(f"starting chatapp serve on 127.0.0.1:{port} ({args.workers} worker(s))")
    return start_server("chatapp", command, env, log_dir / f"chatapp-{run}.log")


def start_floor(log_dir: Path, run: int) -> Server:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "chatapp.bench.floor",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    _say(f"starting the floor on 127.0.0.1:{port}")
    return start_server("floor", command, dict(os.environ), log_dir / f"floor-{run}.log")


def _proc_children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rfind(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def process_tree(pid: int) -> list[int]:
    """The server process and its descendants, without PostgreSQL (embedded)."""
    children = _proc_children()
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        try:
            comm = Path(f"/proc/{current}/comm").read_text().strip()
        except OSError:
            continue
        if not comm.startswith(POSTGRES_COMMS):
            found.append(current)
        todo.extend(children.get(current, ()))
    return found


def tree_rss_kib(pid: int | None) -> int | None:
    if pid is None:
        return None
    total = 0
    for member in process_tree(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])  # kB
    return total


def tree_cpu_seconds(pid: int) -> float:
    ticks = 0
    for member in process_tree(pid):
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{member}/stat").read_text()
            fields = stat[stat.rfind(")") + 2 :].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _server_cpu(pid: int | None) -> float | None:
    return None if pid is None else tree_cpu_seconds(pid)


async def quiesce(pid: int | None) -> float:
    """Wait until the server uses under IDLE_CPU of a core for two 1 s windows."""
    if pid is None:
        await asyncio.sleep(2)
        return 2.0
    started = time.monotonic()
    quiet = 0
    before = tree_cpu_seconds(pid)
    while quiet < 2 and time.monotonic() - started < QUIET_LIMIT:
        await asyncio.sleep(1.0)
        now = tree_cpu_seconds(pid)
        quiet = quiet + 1 if now - before < IDLE_CPU else 0
        before = now
    return time.monotonic() - started


def raise_fd_limit(clients: int, procs: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = clients + clients // max(procs, 1) + 1024
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    target = needed if hard == resource.RLIM_INFINITY else min(hard, needed)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    _say(f"raised the open file limit from {soft} to {target}")
    if target < needed:
        _say(f"warning: the hard limit {hard} is below the {needed} descriptors wanted")


# --- users ---------------------------------------------------------------------------


def _cache_key(args: argparse.Namespace) -> str:
    """Where the sessions live: the database, and the secret key that signs them."""
    if args.url:
        return f"url {args.url}"
    database = os.environ.get("DATABASE_URL", "")
    if not database:
        return "embedded " + str(Path(os.environ.get("CHATAPP_DATA_DIR", "var")).resolve())
    parts = urlsplit(database)
    netloc = parts.hostname or ""
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    secret = hashlib.sha256(os.environ.get("SECRET_KEY", "").encode()).hexdigest()[:12]
    return f"db {urlunsplit((parts.scheme, netloc, parts.path, '', ''))} key {secret}"


def _read_cache(target: Path) -> dict[str, Any]:
    try:
        data = json.loads(target.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _load_cache(path: str, key: str) -> list[str]:
    if not path:
        return []
    found = _read_cache(Path(path)).get(key, [])
    return (
        [cookie for cookie in found if isinstance(cookie, str)] if isinstance(found, list) else []
    )


def _save_cache(path: str, key: str, cookies: list[str], invalid: set[str]) -> None:
    """Store our cookies first, then any another run stored meanwhile, less the
    ones found invalid; under a lock, so concurrent runs lose nothing."""
    if not path:
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = _read_cache(target)
        ours = set(cookies)
        theirs = data.get(key, [])
        theirs = theirs if isinstance(theirs, list) else []
        data[key] = cookies + [
            c for c in theirs if isinstance(c, str) and c not in ours and c not in invalid
        ]
        temporary = target.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(data, out)
        os.replace(temporary, target)


async def _valid_sessions(base: str, cookies: list[str], concurrency: int) -> list[str]:
    gate = asyncio.Semaphore(concurrency)

    async with httpx.AsyncClient(base_url=base, timeout=30) as client:

        async def check(cookie: str) -> bool:
            async with gate:
                client.cookies.clear()
                answer = await client.get("/api/me", headers={"Cookie": f"sessionid={cookie}"})
                return answer.status_code == 200

        valid = await asyncio.gather(*(check(cookie) for cookie in cookies))
    return [cookie for cookie, ok in zip(cookies, valid, strict=True) if ok]


async def _register(base: str, gate: asyncio.Semaphore) -> str:
    username = f"fan_{secrets.token_hex(6)}"
    async with gate, httpx.AsyncClient(base_url=base, timeout=180) as client:
        token = (await client.get("/api/csrf")).json()["csrf_token"]
        answer = await client.post(
            "/api/auth/register",
            json={"username": username, "email": f"{username}@example.com", "password": PASSWORD},
            headers={"X-CSRFToken": token},
        )
        if answer.status_code != 201:
            raise BenchError(f"register {username}: {answer.status_code} {answer.text[:200]}")
        return str(client.cookies["sessionid"])


async def ensure_sessions(base: str, count: int, args: argparse.Namespace) -> list[str]:
    """``count`` session cookies of distinct users: cached ones still valid, then new."""
    key = _cache_key(args)
    cached = _load_cache(args.sessions, key)
    cookies: list[str] = []
    invalid: set[str] = set()
    checked = 0
    started = time.monotonic()
    while len(cookies) < count and checked < len(cached):
        batch = cached[checked : checked + count - len(cookies)]
        checked += len(batch)
        valid = await _valid_sessions(base, batch, 16)
        cookies += valid
        invalid.update(set(batch) - set(valid))
    if checked:
        _say(
            f"{len(cookies)} of {checked} cached sessions are valid "
            f"({time.monotonic() - started:.1f} s)"
        )
    unchecked = cached[checked:]
    missing = count - len(cookies)
    if invalid and not missing:
        _save_cache(args.sessions, key, cookies + unchecked, invalid)
    if missing:
        _say(f"registering {missing} users over the API ({args.register_concurrency} at a time)")
        gate = asyncio.Semaphore(args.register_concurrency)
        started = time.monotonic()
        pending = [asyncio.ensure_future(_register(base, gate)) for _ in range(missing)]
        try:
            for done, next_cookie in enumerate(asyncio.as_completed(pending), 1):
                cookies.append(await next_cookie)
                if done % 100 == 0 or done == missing:
                    rate = done / (time.monotonic() - started)
                    _say(f"  {done}/{missing} registered ({rate:.1f}/s)")
                    _save_cache(args.sessions, key, cookies, invalid)
        finally:
            for task in pending:
                task.cancel()
            _save_cache(args.sessions, key, cookies, invalid)
    return cookies[:count]


# --- client processes ------------------------------------------------------------------


@dataclass
class ClientConfig:
    ws_url: str
    origin: str
    cookies: list[str]
    lobby: int
    tag: str
    messages: int
    connect_concurrency: int


@dataclass
class ClientStats:
    latencies: array.array[float] = field(default_factory=lambda: array.array("d"))
    message_max: array.array[float] = field(default_factory=lambda: array.array("d"))
    frames: int = 0  # message frames of this run, duplicates included
    unique: int = 0  # distinct messages of this run, summed over sockets
    duplicates: int = 0
    gaps: int = 0  # a seq more than one above the previous one
    backwards: int = 0  # a seq not above the previous one
    first_recv: float = 0.0
    last_recv: float = 0.0
    other: Counter[str] = field(default_factory=Counter)  # presence, typing …
    closes: Counter[str] = field(default_factory=Counter)  # closed by the server
    done: int = 0
    closing: bool = False
    all_done: asyncio.Event = field(default_factory=asyncio.Event)
    sockets: int = 0


class Receiver:
    def __init__(self, ws: ClientConnection, config: ClientConfig, stats: ClientStats) -> None:
        self.ws = ws
        self.tag = config.tag
        self.seen = bytearray(config.messages)
        self.count = 0
        self.expected = config.messages
        self.prev_seq: int | None = None
        self.stats = stats
        self.finished = False
        self.task = asyncio.create_task(self.run())
        if self.expected == 0:
            self._finish()

    def _finish(self) -> None:
        if not self.finished:
            self.finished = True
            self.stats.done += 1
            if self.stats.done >= self.stats.sockets:
                self.stats.all_done.set()

    def _message(self, message: dict[str, Any], now: float) -> None:
        stats = self.stats
        client_id = message.get("client_id")
        if not isinstance(client_id, str) or not client_id.startswith(self.tag):
            stats.other["message (not this run)"] += 1
            return
        stats.frames += 1
        latency = now - float(message["body"])
        stats.latencies.append(latency)
        if not stats.first_recv:
            stats.first_recv = now
        stats.last_recv = max(stats.last_recv, now)
        seq = message["seq"]
        if self.prev_seq is not None:
            if seq <= self.prev_seq:
                stats.backwards += 1
            elif seq != self.prev_seq + 1:
                stats.gaps += 1
        self.prev_seq = seq if self.prev_seq is None else max(seq, self.prev_seq)
        index = int(client_id[len(self.tag) :])
        if not 0 <= index < self.expected:
            return
        if latency > stats.message_max[index]:
            stats.message_max[index] = latency
        if self.seen[index]:
            stats.duplicates += 1
            return
        self.seen[index] = 1
        self.count += 1
        stats.unique += 1
        if self.count == self.expected:
            self._finish()

    async def run(self) -> None:
        try:
            async for raw in self.ws:
                now = time.time()
                frame = json.loads(raw)
                kind = frame.get("type")
                if kind == "message":
                    self._message(frame["message"], now)
                else:
                    self.stats.other[str(kind)] += 1
        except ConnectionClosed:
            pass
        finally:
            if not self.stats.closing:
                self.stats.closes[str(self.ws.close_code)] += 1
            self._finish()


async def _until_subscribed(ws: ClientConnection, lobby: int, stats: ClientStats) -> None:
    while True:
        frame = json.loads(await ws.recv())
        kind = frame.get("type")
        if kind == "subscribed" and frame.get("room") == lobby:
            return
        if kind == "error":
            raise BenchError(f"subscribe: {frame.get('code')} {frame.get('detail')}")
        stats.other[str(kind)] += 1


async def open_socket(
    ws_url: str, origin: str, cookie: str, lobby: int | None, stats: ClientStats
) -> tuple[ClientConnection, dict[str, Any]]:
    """Open /ws/, read hello and, given a room, subscribe. Returns the socket and hello."""
    async with asyncio.timeout(OPEN_LIMIT):
        ws = await connect(
            ws_url,
            additional_headers={"Cookie": f"sessionid={cookie}", "Origin": origin},
            open_timeout=None,
            ping_interval=None,
            close_timeout=2,
            max_size=None,
            compression=None,
        )
        try:
            hello = json.loads(await ws.recv())
            if hello.get("type") != "hello":
                raise BenchError(f"the first frame is {hello.get('type')!r}, not hello")
            if lobby is not None:
                await ws.send(_encode({"type": "subscribe", "room": lobby, "after_seq": None}))
                await _until_subscribed(ws, lobby, stats)
        except BaseException:
            await ws.close()
            raise
    return ws, hello


async def _open_receiver(
    config: ClientConfig, cookie: str, gate: asyncio.Semaphore, stats: ClientStats
) -> Receiver:
    async with gate:
        ws, _ = await open_socket(config.ws_url, config.origin, cookie, config.lobby, stats)
    return Receiver(ws, config, stats)


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:100]}"


async def _client_main(config: ClientConfig, conn: Connection) -> None:
    stats = ClientStats(sockets=len(config.cookies))
    stats.message_max = array.array("d", [0.0] * config.messages)
    gate = asyncio.Semaphore(config.connect_concurrency)
    started = time.monotonic()
    opening = [
        asyncio.ensure_future(_open_receiver(config, cookie, gate, stats))
        for cookie in config.cookies
    ]
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(CONNECT_PHASE_LIMIT):
            await asyncio.wait(opening)
    receivers: list[Receiver] = []
    failures: Counter[str] = Counter()
    for task in opening:
        if not task.done():
            task.cancel()
            failures["connect phase timed out"] += 1
        elif task.exception() is not None:
            failures[_describe(task.exception())] += 1  # type: ignore[arg-type]
        else:
            receivers.append(task.result())
    stats.sockets = len(receivers)
    stats.done = sum(1 for r in receivers if r.finished)
    if stats.done >= stats.sockets:
        stats.all_done.set()
    conn.send(
        (
            "ready",
            {
                "connected": len(receivers),
                "failed": sum(failures.values()),
                "errors": dict(failures.most_common(5)),
                "connect_s": time.monotonic() - started,
            },
        )
    )
    cpu_ready, wall_ready = _own_cpu_seconds(), time.monotonic()
    # Until the parent says the sending is over (bounded: it may have died).
    command = None
    if await asyncio.to_thread(conn.poll, 3600):
        with contextlib.suppress(EOFError):
            command = conn.recv()
    if isinstance(command, tuple) and command[0] == "finish":
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, float(command[1]) - time.time())):
                if stats.done < stats.sockets:
                    await stats.all_done.wait()
    stats.closing = True
    conn.send(
        (
            "result",
            {
                "sockets": len(receivers),
                "complete": sum(1 for r in receivers if r.count == r.expected),
                "frames": stats.frames,
                "unique": stats.unique,
                "duplicates": stats.duplicates,
                "gaps": stats.gaps,
                "backwards": stats.backwards,
                "first_recv": stats.first_recv,
                "last_recv": stats.last_recv,
                "other": dict(stats.other),
                "closes": dict(stats.closes),
                "latencies": stats.latencies.tobytes(),
                "message_max": stats.message_max.tobytes(),
                "cpu_s": _own_cpu_seconds() - cpu_ready,
                "wall_s": time.monotonic() - wall_ready,
            },
        )
    )
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(20):
            await asyncio.gather(*(r.ws.close() for r in receivers), return_exceptions=True)
    for r in receivers:
        r.task.cancel()
    await asyncio.gather(*(r.task for r in receivers), return_exceptions=True)


def client_process(config: ClientConfig, conn: Connection) -> None:
    """Entry point of a client process (multiprocessing, spawn)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us
    run: Callable[[Coroutine[Any, Any, None]], None] = asyncio.run
    with contextlib.suppress(ImportError):
        import uvloop

        run = uvloop.run
    try:
        run(_client_main(config, conn))
    finally:
        conn.close()


# --- the sender ----------------------------------------------------------------------


class Sender:
    """One socket of its own user that sends M messages at R a second."""

    def __init__(self, ws: ClientConnection, lobby: int) -> None:
        self.ws = ws
        self.lobby = lobby
        self.tag = ""
        self.expected = 0
        self.sent_at: dict[int, float] = {}
        self.ack_latencies: list[float] = []
        self.errors: Counter[str] = Counter()
        self.answered = asyncio.Event()
        self.closed_code: int | None = None
        self.task = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, base: str, cookie: str) -> Sender:
        ws_url = base.replace("http", "ws", 1) + "/ws/"
        stats = ClientStats()
        ws, hello = await open_socket(ws_url, base, cookie, None, stats)
        lobby = next(
            (
                room["id"]
                for room in hello.get("rooms", [])
                if room.get("kind") == "public" and room.get("title") == "Lobby"
            ),
            None,
        )
        if lobby is None:
            await ws.close()
            raise BenchError("the hello frame names no public room 'Lobby'")
        await ws.send(_encode({"type": "subscribe", "room": lobby, "after_seq": None}))
        async with asyncio.timeout(OPEN_LIMIT):
            await _until_subscribed(ws, lobby, stats)
        return cls(ws, lobby)

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                now = time.time()
                frame = json.loads(raw)
                kind = frame.get("type")
                ref = frame.get("client_id") if kind == "ack" else frame.get("ref")
                if not self.tag or not isinstance(ref, str) or not ref.startswith(self.tag):
                    continue
                index = int(ref[len(self.tag) :])
                if kind == "ack":
                    self.ack_latencies.append(now - self.sent_at.get(index, now))
                else:
                    self.errors[str(frame.get("code"))] += 1
                if len(self.ack_latencies) + sum(self.errors.values()) >= self.expected:
                    self.answered.set()
        except ConnectionClosed:
            self.closed_code = self.ws.close_code
            self.answered.set()

    async def send_all(self, count: int, rate: float, tag: str) -> dict[str, Any]:
        self.tag, self.expected = tag, count
        started = time.monotonic()
        first = 0.0
        for index in range(count):
            delay = started + index / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            now = time.time()
            first = first or now
            self.sent_at[index] = now
            frame = {"type": "send", "room": self.lobby, "body": f"{now:.6f}"}
            frame["client_id"] = f"{tag}{index}"
            await self.ws.send(_encode(frame))
        last = time.time()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(ACK_LIMIT):
                await self.answered.wait()
        acks = sorted(self.ack_latencies)
        return {
            "sent": count,
            "first_send": first,
            "last_send": last,
            "send_s": last - first,
            "acks": len(acks),
            "errors": dict(self.errors),
            "closed_code": self.closed_code,
            "ack_p50_ms": _ms(percentile(acks, 0.50)),
            "ack_p99_ms": _ms(percentile(acks, 0.99)),
        }

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(10):
                await self.ws.close()
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


# --- one run against one server ----------------------------------------------------------


def percentile(ordered: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 2)


def _chunks(items: list[str], parts: int) -> Iterator[list[str]]:
    parts = max(1, min(parts, len(items)))
    for index in range(parts):
        chunk = items[index::parts]
        if chunk:
            yield chunk


async def _answer(conn: Connection, limit: float, what: str) -> dict[str, Any]:
    if not await asyncio.to_thread(conn.poll, limit):
        raise BenchError(f"a client process did not report {what} within {limit:.0f} s")
    try:
        kind, payload = conn.recv()
    except EOFError as exc:
        raise BenchError(f"a client process died before reporting {what}") from exc
    if kind != what:
        raise BenchError(f"a client process reported {kind!r}, not {what!r}")
    return dict(payload)


async def run_target(
    server: Server, cookies: list[str], sender_cookie: str, args: argparse.Namespace
) -> dict[str, Any]:
    load = os.getloadavg()[0]
    _say(f"{server.name}: sender connects and subscribes (load average {load:.2f})")
    sender = await Sender.open(server.base, sender_cookie)
    processes: list[Any] = []
    conns: list[Connection] = []
    try:
        waited = await quiesce(server.pid)
        rss_before = tree_rss_kib(server.pid)
        _say(f"{server.name}: idle after {waited:.1f} s, RSS {rss_before} KiB; opening sockets")
        tag = f"b{secrets.token_hex(4)}-"
        context = multiprocessing.get_context("spawn")
        for chunk in _chunks(cookies, args.procs):
            config = ClientConfig(
                ws_url=server.base.replace("http", "ws", 1) + "/ws/",
                origin=server.base,
                cookies=chunk,
                lobby=sender.lobby,
                tag=tag,
                messages=args.messages,
                connect_concurrency=args.connect_concurrency,
            )
            parent, child = context.Pipe()
            process = context.Process(target=client_process, args=(config, child), daemon=True)
            process.start()
            child.close()
            processes.append(process)
            conns.append(parent)
        started = time.monotonic()
        ready = [await _answer(conn, CONNECT_PHASE_LIMIT + 60, "ready") for conn in conns]
        connect_s = time.monotonic() - started
        connected = sum(r["connected"] for r in ready)
        failed = sum(r["failed"] for r in ready)
        errors: Counter[str] = Counter()
        for r in ready:
            errors.update(r["errors"])
        _say(f"{server.name}: {connected} sockets subscribed in {connect_s:.1f} s, {failed} failed")
        for error, times in errors.most_common(5):
            _say(f"  {times} x {error}")
        waited = await quiesce(server.pid)
        rss_after = tree_rss_kib(server.pid)
        _say(f"{server.name}: idle after {waited:.1f} s, RSS {rss_after} KiB; sending")
        cpu_before, wall_before = _server_cpu(server.pid), time.monotonic()
        machine_before, own_before = machine_busy_seconds(), _own_cpu_seconds()
        send = await sender.send_all(args.messages, args.rate, tag)
        _say(
            f"{server.name}: sent {send['sent']} in {send['send_s']:.1f} s, "
            f"{send['acks']} acks, errors {send['errors'] or 'none'}"
        )
        deadline = time.time() + args.drain_timeout
        for conn in conns:
            conn.send(("finish", deadline))
        results = [await _answer(conn, args.drain_timeout + 60, "result") for conn in conns]
        cpu_after, wall_after = _server_cpu(server.pid), time.monotonic()
        machine_after, own_after = machine_busy_seconds(), _own_cpu_seconds()
    finally:
        await sender.close()
        for process in processes:
            await asyncio.to_thread(process.join, 30)
            if process.is_alive():
                process.terminate()
                await asyncio.to_thread(process.join, 5)
            if process.is_alive():
                process.kill()
                await asyncio.to_thread(process.join, 5)
        for conn in conns:
            conn.close()
    summary = summarize(
        server, args, connected, failed, errors, connect_s, rss_before, rss_after, send, results
    )
    summary["load_average_1m_before"] = round(load, 2)
    if cpu_before is not None and cpu_after is not None:
        # Cores the server used from the first send until every client reported.
        busy = cpu_after - cpu_before
        summary["server_cores_busy"] = round(busy / (wall_after - wall_before), 2)
        if summary["received"]:
            # Server CPU per delivered frame: independent of the offered rate.
            summary["server_cpu_us_per_delivery"] = round(busy / summary["received"] * 1e6, 1)
    # Cores the client processes used in the same phase (they share the machine).
    client_cpu = sum(r["cpu_s"] for r in results)
    summary["client_cores_busy"] = round(
        client_cpu / max(max(r["wall_s"] for r in results), 1e-9), 2
    )
    if cpu_before is not None and cpu_after is not None:
        # Everything else on the machine meanwhile (other programs, and the
        # kernel's loopback work not charged to a process): interference.
        other = (machine_after - machine_before) - (cpu_after - cpu_before)
        other -= client_cpu + (own_after - own_before)
        summary["other_cores_busy"] = round(max(0.0, other) / (wall_after - wall_before), 2)
    return summary


def summarize(
    server: Server,
    args: argparse.Namespace,
    connected: int,
    failed: int,
    errors: Counter[str],
    connect_s: float,
    rss_before: int | None,
    rss_after: int | None,
    send: dict[str, Any],
    results: list[dict[str, Any]],
) -> dict[str, Any]:
    latencies = array.array("d")
    other: Counter[str] = Counter()
    closes: Counter[str] = Counter()
    for r in results:
        latencies.frombytes(r["latencies"])
        other.update(r["other"])
        closes.update(r["closes"])
    ordered = sorted(latencies)
    # The slowest delivery of each message, over all sockets.
    message_max = [0.0] * args.messages
    for r in results:
        for index, value in enumerate(array.array("d", r["message_max"])):
            message_max[index] = max(message_max[index], value)
    slowest = sorted(range(len(message_max)), key=message_max.__getitem__, reverse=True)[:5]
    frames = sum(r["frames"] for r in results)
    unique = sum(r["unique"] for r in results)
    expected = connected * args.messages
    last_recv = max((r["last_recv"] for r in results), default=0.0)
    span = last_recv - send["first_send"] if last_recv else 0.0
    rss_per_socket = None
    if rss_before is not None and rss_after is not None and connected:
        rss_per_socket = round((rss_after - rss_before) / connected, 2)
    return {
        "target": server.name,
        "sockets": connected,
        "connect_failed": failed,
        "connect_errors": dict(errors),
        "connect_s": round(connect_s, 2),
        "offered_per_s": round(connected * args.rate, 1),
        "expected": expected,
        "received": frames,
        "lost": expected - unique,
        "duplicates": sum(r["duplicates"] for r in results),
        "seq_gaps": sum(r["gaps"] for r in results),
        "seq_backwards": sum(r["backwards"] for r in results),
        "complete_sockets": sum(r["complete"] for r in results),
        "closed_by_server": dict(closes),
        "other_frames": dict(other),
        "span_s": round(span, 3),
        "deliveries_per_s": round(frames / span, 1) if span > 0 else None,
        "latency_p50_ms": _ms(percentile(ordered, 0.50)),
        "latency_p90_ms": _ms(percentile(ordered, 0.90)),
        "latency_p99_ms": _ms(percentile(ordered, 0.99)),
        "latency_max_ms": _ms(ordered[-1] if ordered else None),
        "rss_before_kib": rss_before,
        "rss_after_kib": rss_after,
        "rss_per_socket_kib": rss_per_socket,
        "send": send,
        "slowest_messages": [
            {"index": i, "sent_at_s": round(i / args.rate, 2), "max_ms": _ms(message_max[i])}
            for i in slowest
        ],
        "message_max_ms": [_ms(value) for value in message_max],
    }


# --- the report ------------------------------------------------------------------------

TARGETS = ("chatapp", "floor")
METRICS = (
    # key, label, ratio to the floor?
    ("deliveries_per_s", "deliveries/s", True),
    ("latency_p50_ms", "latency p50 (ms)", True),
    ("latency_p99_ms", "latency p99 (ms)", True),
    ("latency_max_ms", "latency max (ms)", True),
    ("lost", "messages lost", False),
    ("duplicates", "duplicates", False),
    ("seq_gaps", "seq gaps", False),
    ("rss_per_socket_kib", "RSS per socket (KiB)", False),
    ("connect_s", "connect+subscribe (s)", True),
    ("sockets", "sockets subscribed", False),
    ("server_cpu_us_per_delivery", "server CPU us/delivery", True),
    ("server_cores_busy", "server cores busy", False),
    ("client_cores_busy", "client cores busy", False),
    ("other_cores_busy", "other cores busy", False),
)


def _median(values: list[Any]) -> float | None:
    numbers = [v for v in values if isinstance(v, int | float)]
    if not numbers:
        return None
    middle = statistics.median(numbers)
    if all(isinstance(v, int) for v in numbers) and float(middle).is_integer():
        return int(middle)
    return round(middle, 2)


def _ratio(ours: float | None, floor: float | None) -> float | None:
    if ours is None or floor is None or floor == 0:
        return None
    return round(ours / floor, 3)


def build_report(args: argparse.Namespace, runs: list[dict[str, Any]]) -> dict[str, Any]:
    medians: dict[str, dict[str, Any]] = {}
    for target in TARGETS:
        found = [run[target] for run in runs if target in run]
        if found:
            medians[target] = {key: _median([r.get(key) for r in found]) for key, _, _ in METRICS}
    ours, floor = medians.get("chatapp", {}), medians.get("floor", {})
    ratios = {key: _ratio(ours.get(key), floor.get(key)) for key, _, ratio in METRICS if ratio}
    lost_total = sum(
        run["chatapp"]["lost"] + run["chatapp"]["duplicates"] + run["chatapp"]["seq_gaps"]
        for run in runs
        if "chatapp" in run
    )
    checks: dict[str, bool | None] = {
        "deliveries_at_least_0.5x_floor": None
        if ratios.get("deliveries_per_s") is None
        else ratios["deliveries_per_s"] >= 0.5,  # type: ignore[operator]
        "p99_at_most_2x_floor": None
        if ratios.get("latency_p99_ms") is None
        else ratios["latency_p99_ms"] <= 2.0,  # type: ignore[operator]
        "nothing_lost": lost_total == 0 if "chatapp" in medians else None,
        "rss_per_socket_at_most_60_kib": None
        if ours.get("rss_per_socket_kib") is None
        else ours["rss_per_socket_kib"] <= 60,
    }
    return {
        "benchmark": "fanout",
        "config": {
            "url": args.url,
            "workers": None if args.url else args.workers,
            "clients": args.clients,
            "messages": args.messages,
            "rate": args.rate,
            "procs": args.procs,
            "repeat": args.repeat,
            "cores": os.cpu_count(),
            "database": "external (--url)" if args.url else _database_label(),
            "redis": bool(os.environ.get("REDIS_URL")) if not args.url else None,
            "raised_limits": None if args.url else RAISED_LIMITS,
        },
        "median": medians,
        "ratio": ratios,
        "targets": checks,
        "runs": runs,
    }


def source_version() -> dict[str, Any] | None:
    """The commit of the code under test and the files changed on top of it."""
    root = Path(__file__).resolve().parents[3]
    if not (root / ".git").exists():
        return None
    try:
        head = _git(root, "rev-parse", "--short", "HEAD").strip()
        status = _git(root, "status", "--porcelain", "--", "src")
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": head, "changed": [line[3:] for line in status.splitlines()]}


def _git(root: Path, *args: str) -> str:
    command = ["git", "-C", str(root), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=True)  # noqa: S603
    return done.stdout


def _database_label() -> str:
    database = os.environ.get("DATABASE_URL", "")
    if not database:
        return "embedded"
    parts = urlsplit(database)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 5432}{parts.path}"


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and value.is_integer() and abs(value) >= 100:
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def render_table(report: dict[str, Any]) -> str:
    config = report["config"]
    ours = report["median"].get("chatapp", {})
    floor = report["median"].get("floor", {})
    lines = [
        f"fan-out: {config['clients']} sockets, {config['messages']} messages at "
        f"{config['rate']:g}/s, {config['procs']} client processes, "
        f"{config['workers'] or '?'} worker(s), {config['cores']} cores, "
        f"database {config['database']}, {config['repeat']} run(s): medians",
    ]
    if config["raised_limits"]:
        limits = ", ".join(f"{k}={v}" for k, v in config["raised_limits"].items())
        lines.append(f"server started with raised limits: {limits}")
    lines.append("")
    lines.append(f"{'metric':<24}{'chatapp':>14}{'floor':>14}{'ratio':>10}")
    for key, label, ratio in METRICS:
        shown = _cell(report["ratio"].get(key)) if ratio else ""
        lines.append(f"{label:<24}{_cell(ours.get(key)):>14}{_cell(floor.get(key)):>14}{shown:>10}")
    lines.append("")
    wanted = {
        "deliveries_at_least_0.5x_floor": "deliveries/s >= 0.5 x floor",
        "p99_at_most_2x_floor": "p99 latency <= 2 x floor",
        "nothing_lost": "nothing lost (no loss, gap, duplicate)",
        "rss_per_socket_at_most_60_kib": "RSS per idle socket <= 60 KiB",
    }
    if report.get("discarded"):
        lines.append(
            f"note: {len(report['discarded'])} run(s) discarded and repeated: other programs "
            "were busy meanwhile (see 'discarded' in the JSON)"
        )
    busy_kept = sum(1 for run in report["runs"] if run.get("busy_kept"))
    if busy_kept:
        lines.append(
            f"warning: {busy_kept} run(s) kept although other programs were busy "
            "(--retries used up): the figures may be disturbed"
        )
    offered = report["median"].get("floor", {}).get("deliveries_per_s")
    if offered is not None and offered >= 0.95 * config["clients"] * config["rate"]:
        lines.append(
            "note: the floor kept up with the offered load (N x R a second), so the "
            "deliveries/s ratio compares with that load, not with the floor's capacity; "
            "server CPU us/delivery compares the cost."
        )
    for key, text in wanted.items():
        held = report["targets"][key]
        verdict = "n/a" if held is None else ("holds" if held else "FAILS")
        lines.append(f"target: {text:<42} {verdict}")
    return "\n".join(lines)


# --- main ----------------------------------------------------------------------------


def main(argv: list[str]) -> None:
    args = parser().parse_args(argv)
    if args.clients < 1 or args.messages < 0 or args.rate <= 0 or args.procs < 1:
        sys.exit("chatapp bench fanout: --clients, --procs and --rate must be positive")
    if args.repeat < 1 or args.workers < 1:
        sys.exit("chatapp bench fanout: --repeat and --workers must be at least 1")
    if args.retries < 0:
        sys.exit("chatapp bench fanout: --retries must not be negative")
    if args.url and urlsplit(args.url).hostname not in {"127.0.0.1", "localhost", "::1"}:
        _say("warning: --url is not on loopback")
    raise_fd_limit(args.clients, args.procs)
    log_dir = Path(args.log_dir or tempfile.mkdtemp(prefix="chatapp-bench-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    _say(f"server logs in {log_dir}")
    runs: list[dict[str, Any]] = []
    discarded: list[dict[str, Any]] = []
    cookies: list[str] = []
    for attempt in range(args.repeat + args.retries):
        if len(runs) == args.repeat:
            break
        run = len(runs)
        _say(f"run {run + 1} of {args.repeat} (attempt {attempt + 1})")
        record: dict[str, Any] = {}
        if args.url:
            server = Server("chatapp", args.url.rstrip("/"), args.server_pid)
        else:
            server = start_chatapp(args, log_dir, attempt)
        try:
            record["source"] = source_version()
            if not cookies or not args.url:
                # Checked on every fresh server too: the same HTTP warm-up before
                # each RSS baseline.
                cookies = asyncio.run(ensure_sessions(server.base, args.clients + 1, args))
            if args.setup_only:
                _say(f"{len(cookies)} users ready; --setup-only: stopping here")
                return
            record["chatapp"] = asyncio.run(run_target(server, cookies[1:], cookies[0], args))
        finally:
            stop_server(server)
        if not args.skip_floor:
            floor = start_floor(log_dir, attempt)
            try:
                record["floor"] = asyncio.run(run_target(floor, cookies[1:], cookies[0], args))
            finally:
                stop_server(floor)
        for name, result in record.items():
            if name == "source":
                continue
            _say(
                f"run {run + 1} {name}: {_cell(result['deliveries_per_s'])} deliveries/s, "
                f"p50 {_cell(result['latency_p50_ms'])} ms, "
                f"p99 {_cell(result['latency_p99_ms'])} ms, lost {result['lost']}, "
                f"RSS/socket {_cell(result['rss_per_socket_kib'])} KiB, "
                f"other cores busy {_cell(result.get('other_cores_busy'))}"
            )
        busy = max(
            (record[name].get("other_cores_busy") or 0.0 for name in TARGETS if name in record),
            default=0.0,
        )
        if busy > args.max_other_cores:
            if len(discarded) < args.retries:
                _say(
                    f"other programs kept {busy:.2f} cores busy during this run "
                    f"(over --max-other-cores {args.max_other_cores:g}): discarded, run again"
                )
                discarded.append(record)
                continue
            _say(f"other programs kept {busy:.2f} cores busy; no retries left: kept")
            record["busy_kept"] = True
        runs.append(record)
    report = build_report(args, runs)
    report["discarded"] = discarded
    print(render_table(report))
    print()
    print(json.dumps(report, indent=2))
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(report, indent=2) + "\n")
