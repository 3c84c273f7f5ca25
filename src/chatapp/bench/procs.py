"""Server processes for the benchmarks and the end-to-end tests.

Start ``chatapp serve`` (or the floor) on a loopback port and wait until it
answers ``/healthz``; stop it by its PID, never by name. Read the RSS and CPU
of a server's process tree from ``/proc`` (without PostgreSQL, which the
embedded database runs as children), the machine's busy time, and raise the
open-file limit that thousands of sockets need.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from chatapp.bench import BenchError, say

START_LIMIT = 120.0  # s for a server to answer /healthz
STOP_LIMIT = 20.0  # s for a process to exit on SIGTERM
QUIET_LIMIT = 90.0  # s to wait for a server to go idle
IDLE_CPU = 0.05  # a server using less than 5 % of a core is idle
LOG_TAIL = 4000  # characters of a failed server's log quoted in the error
POSTGRES_COMMS = ("postgres", "pg_ctl")
# The server's dependencies: their CPU is part of what a request costs, not
# interference from other programs.
DEPENDENCY_COMMS = ("postgres", "redis-server")


class ServerFailed(BenchError):
    """A server exited or never answered /healthz."""


@dataclass
class Server:
    """A server to measure: started here (``process`` set) or already running."""

    name: str
    base: str  # http://127.0.0.1:PORT
    pid: int | None  # for RSS and CPU; None when unknown (--url without --server-pid)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_process(
    name: str, command: Sequence[str], *, env: dict[str, str], log_path: Path, port: int
) -> Server:
    """Run ``command`` (which listens on ``port``) in its own session and wait until
    it answers /healthz. Its output is appended to ``log_path``, so a restart keeps
    the first run's."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            list(command), env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Server(name, f"http://127.0.0.1:{port}", process.pid, process, log_path)
    try:
        _wait_healthy(server, process, log_path)
    except BaseException:
        stop_server(server)
        raise
    return server


def _wait_healthy(server: Server, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + START_LIMIT
    while True:
        if process.poll() is not None:
            raise ServerFailed(
                f"{server.name} exited with {process.returncode}; {log_path}:\n{_tail(log_path)}"
            )
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{server.base}/healthz", timeout=2).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise ServerFailed(
                f"{server.name} did not answer /healthz; {log_path}:\n{_tail(log_path)}"
            )
        time.sleep(0.2)


def _tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-LOG_TAIL:]
    except OSError:
        return ""


# The benchmarks and the tests register and log in many users from 127.0.0.1,
# far more than one client address may in production.
UNTHROTTLED = {
    "THROTTLE_LOGIN": "off",
    "THROTTLE_REGISTER": "off",
    "THROTTLE_PASSWORD_RESET": "off",
}


def start_chatapp(
    *,
    env: dict[str, str],
    log_path: Path,
    args: Sequence[str] = (),
    port: int | None = None,
    name: str = "chatapp",
) -> Server:
    """``chatapp serve --host 127.0.0.1 --port PORT ARGS`` (default: a free port),
    without the per-address throttles unless ``env`` sets them."""
    port = port or free_port()
    command = [sys.executable, "-m", "chatapp", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), *args]
    return start_process(name, command, env={**UNTHROTTLED, **env}, log_path=log_path, port=port)


def start_floor(*, env: dict[str, str], log_path: Path, port: int | None = None) -> Server:
    """The bare ASGI floor (``chatapp.bench.floor``) under the flags of ``chatapp serve``."""
    port = port or free_port()
    command = [sys.executable, "-m", "chatapp.bench.floor", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--log-level", "warning"]
    return start_process("floor", command, env=env, log_path=log_path, port=port)


def stop_process(process: subprocess.Popen[bytes], timeout: float = STOP_LIMIT) -> None:
    """SIGTERM, then SIGKILL to its session (only what it started) if it lingers."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


def stop_server(server: Server) -> None:
    if server.process is not None:
        stop_process(server.process)


# --- RSS and CPU from /proc ---------------------------------------------------------


def _proc_stats() -> Iterator[tuple[int, str, list[str]]]:
    """(pid, command name, the fields after it) of every process in /proc."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rfind(")")]
        yield int(entry.name), comm, stat[stat.rfind(")") + 2 :].split()


def children_of() -> dict[int, list[int]]:
    """Each process's children, by parent PID."""
    children: dict[int, list[int]] = {}
    for pid, _, fields in _proc_stats():
        children.setdefault(int(fields[1]), []).append(pid)
    return children


def process_tree(pid: int) -> list[int]:
    """The server process and its descendants, without PostgreSQL (embedded)."""
    children = children_of()
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


def server_cpu_seconds(pid: int | None) -> float | None:
    return None if pid is None else tree_cpu_seconds(pid)


def dependencies_cpu_seconds() -> float:
    """CPU seconds of the PostgreSQL and Redis servers on this machine, whoever
    uses them, including PostgreSQL backends that have exited (their time is
    added to the postmaster's children time when it reaps them)."""
    found: dict[int, tuple[str, int, int, int]] = {}  # pid: comm, ppid, own, reaped ticks
    for pid, comm, fields in _proc_stats():
        own, reaped = int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])
        found[pid] = (comm, int(fields[1]), own, reaped)
    ticks = 0
    for comm, ppid, own, reaped in found.values():
        if not comm.startswith(DEPENDENCY_COMMS):
            continue
        ticks += own
        parent = found.get(ppid)
        if parent is None or not parent[0].startswith(DEPENDENCY_COMMS):
            ticks += reaped  # the postmaster's exited backends; Redis has none
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """CPU seconds of this process (a client process, or the bench itself)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class CpuReading:
    """CPU seconds so far: the server's tree, its dependencies, the whole machine,
    and this process; with the monotonic time they were read."""

    wall: float
    server: float | None
    dependencies: float
    machine: float
    own: float


def read_cpu(pid: int | None) -> CpuReading:
    return CpuReading(
        wall=time.monotonic(),
        server=server_cpu_seconds(pid),
        dependencies=dependencies_cpu_seconds(),
        machine=machine_busy_seconds(),
        own=own_cpu_seconds(),
    )


def cpu_use(before: CpuReading, after: CpuReading, client_cpu: float) -> dict[str, float]:
    """Cores busy between two readings: the server, PostgreSQL and Redis, and
    everything else but the client processes (``client_cpu`` seconds) and this
    one, the interference that discards a run. Without the server's PID, only
    the dependencies."""
    wall = max(after.wall - before.wall, 1e-9)
    dependencies = after.dependencies - before.dependencies
    use = {"deps_cpu_s": dependencies, "deps_cores_busy": round(dependencies / wall, 2)}
    if before.server is not None and after.server is not None:
        server = after.server - before.server
        other = after.machine - before.machine - server - dependencies
        other -= client_cpu + (after.own - before.own)
        use["server_cpu_s"] = server
        use["server_cores_busy"] = round(server / wall, 2)
        use["other_cores_busy"] = round(max(0.0, other) / wall, 2)
    return use


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


def listen_overflows(netstat: Path = Path("/proc/net/netstat")) -> int | None:
    """Times a listen queue overflowed in this network namespace (TcpExt
    ListenOverflows): each is a connect whose SYN, or whose final ACK, the kernel
    dropped because the server had not accepted the connections before it. The
    client's kernel sends it again (after 1 s, then 3 s …); no error reaches
    the client. None where ``netstat`` does not say."""
    try:
        lines = netstat.read_text().splitlines()
    except OSError:
        return None
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:") and values.startswith("TcpExt:"):
            found = dict(zip(names.split()[1:], values.split()[1:], strict=False))
            if "ListenOverflows" in found:
                return int(found["ListenOverflows"])
    return None


def raise_fd_limit(needed: int) -> None:
    """Raise this process's soft RLIMIT_NOFILE to ``needed`` (up to the hard limit);
    processes started afterwards inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    target = needed if hard == resource.RLIM_INFINITY else min(hard, needed)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    say(f"raised the open file limit of process {os.getpid()} from {soft} to {target}")
    if target < needed:
        say(f"warning: the hard limit {hard} is below the {needed} descriptors wanted")


def fds_wanted(clients: int, procs: int) -> int:
    """Descriptors for the server's sockets, one client process's share, and slack."""
    return clients + clients // max(procs, 1) + 1024
