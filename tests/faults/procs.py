"""Servers of a fault test's own: a Redis and a PostgreSQL cluster that a test
may stop, kill (SIGKILL) and start again on the same port, and the
``chatapp serve`` pointed at them.

Every process is tracked by PID and ended by PID; every wait has a deadline.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from chatapp.bench.procs import free_port
from tests.e2e.server import Server, base_env, start_server

START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
POSTGRES_ROOT = Path("/usr/lib/postgresql")


class ProcessFailed(RuntimeError):
    pass


def _wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise ProcessFailed(f"timed out after {timeout:.0f} s waiting for {what}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _children(parent: int) -> list[int]:
    """PIDs of the processes (zombies included) whose parent is ``parent``."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # After the command's ")": state, ppid, ...
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == parent:
            children.append(int(entry.name))
    return children


def _adopted_postgres_zombies() -> list[int]:
    zombies = []
    for pid in _children(os.getpid()):
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        if comm == "postgres" and not _pid_alive(pid):
            zombies.append(pid)
    return zombies


def _adopt_orphans() -> None:
    """Make this process the child subreaper of its descendants.

    ``pg_ctl`` daemonizes the postmaster, which then belongs to PID 1. An init
    that is slow to reap leaves a killed postmaster a zombie, and a zombie still
    answers ``kill(pid, 0)``: the next ``pg_ctl start`` then finds the lock file
    "in use" and refuses. Adopted, the test reaps its own servers by PID.
    """
    pr_set_child_subreaper = 36
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(pr_set_child_subreaper, 1, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(errno)}")


def _reap(pids: list[int], timeout: float) -> None:
    """Wait until each of ``pids`` has exited, reaping those that are our children."""
    deadline = time.monotonic() + timeout
    for pid in pids:
        while True:
            try:
                if os.waitpid(pid, os.WNOHANG) != (0, 0):
                    break
            except ChildProcessError:
                if not _pid_alive(pid):  # someone else's child: gone or a zombie
                    break
            if time.monotonic() > deadline:
                raise ProcessFailed(f"process {pid} did not exit within {timeout:.0f} s")
            time.sleep(0.02)


def port_accepts(port: int, address: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False


# --- Redis ----------------------------------------------------------------------------


class RedisServer:
    """A ``redis-server`` on a free port, without persistence, on loopback or on
    ``address`` (the host side of the multi-host test's network); ``options``
    are more of its command-line options."""

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        options: tuple[str, ...] = (),
        address: str = "127.0.0.1",
    ) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ProcessFailed("redis-server is not installed (Debian package redis-server)")
        self.binary = binary
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.options = options
        self.address = address
        self.log_path = workdir / "redis.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.address}:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def command(self) -> list[str]:
        return [
            self.binary,
            "--port", str(self.port),
            "--bind", self.address,
            # Bound to one address on purpose: clients on the test's own network may use it.
            "--protected-mode", "no",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.workdir),
            "--daemonize", "no",
            *self.options,
        ]  # fmt: skip

    def start(self) -> None:
        if self.process is not None and self.process.poll() is None:
            raise ProcessFailed(f"redis-server {self.process.pid} is already running")
        command = self.command()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = self.process
        try:
            _wait_until(
                lambda: process.poll() is not None or self.ping(),
                START_TIMEOUT,
                f"redis-server on port {self.port}",
            )
        except BaseException:
            self.kill()
            raise
        if process.poll() is not None:
            self.process = None
            raise ProcessFailed(
                f"redis-server exited with {process.returncode}:\n{self.log_path.read_text()}"
            )

    def ping(self) -> bool:
        try:
            with socket.create_connection((self.address, self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                # With requirepass it answers too, asking for the password.
                return sock.recv(16).startswith((b"+PONG", b"-NOAUTH"))
        except OSError:
            return False

    def stop(self) -> None:
        """SIGTERM, as a service manager would; SIGKILL past the deadline."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL: the process is gone at once, connections drop mid-way."""
        self._end(signal.SIGKILL)

    def restart(self) -> None:
        self.stop()
        self.start()

    def _end(self, signum: int) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signum)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


# --- PostgreSQL -----------------------------------------------------------------------


def postgres_bin_dir() -> Path:
    """The bin folder of the newest PostgreSQL installed from Debian's packages."""
    versions = sorted(
        (path for path in POSTGRES_ROOT.glob("*/bin") if (path / "initdb").exists()),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
    )
    if not versions:
        raise ProcessFailed(
            f"no PostgreSQL server binaries under {POSTGRES_ROOT}/<version>/bin "
            "(Debian package postgresql)"
        )
    return versions[-1]


class PostgresCluster:
    """A PostgreSQL cluster of its own: ``initdb`` into a fresh folder, served by
    ``pg_ctl`` on a free loopback port with trust authentication and its unix
    socket inside that folder.

    PostgreSQL refuses to run as root, so when the tests run as root the server
    runs as the ``postgres`` system user, which then owns the folder. The folder
    is made with ``tempfile`` rather than under pytest's ``tmp_path``, which is
    private to root.
    """

    USER = "postgres"
    DATABASE = "chatapp"

    def __init__(
        self, port: int | None = None, address: str = "127.0.0.1", clients: str | None = None
    ) -> None:
        """``address``: where it listens; ``clients``: a network (``10.1.2.0/24``)
        whose hosts may connect too, beyond this machine's loopback."""
        self.bin = postgres_bin_dir()
        self.port = port or free_port()
        self.address = address
        self.root = Path(tempfile.mkdtemp(prefix="chatapp-pg-"))
        self.data = self.root / "data"
        self.log_path = self.root / "postgres.log"
        self._as_user: list[str] = []
        _adopt_orphans()
        if os.geteuid() == 0:
            runuser = shutil.which("runuser")
            if runuser is None:
                raise ProcessFailed("running as root needs runuser (util-linux) to run PostgreSQL")
            account = pwd.getpwnam(self.USER)
            os.chown(self.root, account.pw_uid, account.pw_gid)
            self._as_user = [runuser, "-u", self.USER, "--"]
        self._run(
            "initdb",
            "--pgdata", str(self.data),
            "--username", self.USER,
            "--auth", "trust",
            "--encoding", "UTF8",
            "--locale", "C",
            "--no-sync",
        )  # fmt: skip
        if clients:
            with (self.data / "pg_hba.conf").open("a") as hba:
                hba.write(f"host all all {clients} trust\n")

    @property
    def url(self) -> str:
        return f"postgres://{self.USER}@{self.address}:{self.port}/{self.DATABASE}"

    @property
    def pid(self) -> int | None:
        """The postmaster's PID while it runs (from postmaster.pid)."""
        try:
            pid = int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None
        return pid if _pid_alive(pid) else None

    def _run(self, program: str, *args: str, timeout: float = START_TIMEOUT) -> str:
        result = subprocess.run(
            [*self._as_user, str(self.bin / program), *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            log = self.log_path.read_text() if self.log_path.exists() else ""
            raise ProcessFailed(
                f"{program} {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}\n{log}"
            )
        return result.stdout

    def start(self) -> None:
        if self.pid is not None:
            raise ProcessFailed(f"postgres {self.pid} is already running")
        options = " ".join(
            [
                f"-p {self.port}",
                f"-c listen_addresses={self.address}",
                f"-c unix_socket_directories={self.root}",
                # Test data: durability against an OS crash buys nothing here.
                "-c fsync=off",
                "-c full_page_writes=off",
                "-c synchronous_commit=off",
            ]
        )
        self._run(
            "pg_ctl",
            "start",
            "--pgdata", str(self.data),
            "--log", str(self.log_path),
            "--options", options,
            "--wait",
            "--timeout", str(int(START_TIMEOUT)),
        )  # fmt: skip
        _wait_until(
            lambda: port_accepts(self.port, self.address),
            START_TIMEOUT,
            f"postgres on {self.address}:{self.port}",
        )

    def stop(self) -> None:
        """``pg_ctl stop -m fast``: sessions are ended, the server exits cleanly."""
        pid = self.pid
        if pid is None:
            return
        self._run(
            "pg_ctl",
            "stop",
            "--pgdata", str(self.data),
            "--mode", "fast",
            "--wait",
            "--timeout", str(int(STOP_TIMEOUT)),
        )  # fmt: skip
        _reap([pid], STOP_TIMEOUT)

    def kill(self) -> None:
        """SIGKILL to the postmaster and every backend, as after an OOM kill or a
        crashed host: the next start runs crash recovery."""
        pid = self.pid
        if pid is None:
            return
        # Every backend calls setsid(), so a process group would not reach them:
        # the postmaster goes first (it forks no more), then each of its children.
        children = _children(pid)
        for victim in (pid, *children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)
        _reap([pid, *children], STOP_TIMEOUT)
        # A backend forked just before the kill exits on its own once it sees the
        # postmaster gone, and is then ours to reap.
        _reap(_adopted_postgres_zombies(), STOP_TIMEOUT)

    def restart(self) -> None:
        self.stop()
        self.start()

    def create_database(self, name: str | None = None) -> None:
        self._run(
            "createdb",
            "--host", str(self.root),
            "--port", str(self.port),
            "--username", self.USER,
            name or self.DATABASE,
        )  # fmt: skip

    def cleanup(self) -> None:
        """Kill whatever still runs and remove the folder."""
        try:
            self.kill()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


# --- chatapp serve ----------------------------------------------------------------------


def start_chatapp(
    *,
    postgres: PostgresCluster,
    redis_url: str,
    workdir: Path,
    workers: int = 1,
    migrate: bool = True,
    **env: str,
) -> Server:
    """``chatapp serve --migrate`` on the given PostgreSQL and Redis, once healthy;
    stop it with ``tests.e2e.server.stop(server.process)``. Its output goes to
    ``workdir / "server.log"``, which a second start appends to."""
    server_env = base_env(
        **{
            "DATABASE_URL": postgres.url,
            "REDIS_URL": redis_url,
            # Servers that share sessions are given one key.
            "SECRET_KEY": "faults-" + uuid.uuid4().hex * 2,
            "CHATAPP_DATA_DIR": str(workdir / "data"),
            "LOG_FORMAT": "json",  # the tests read the access log's status fields
            **env,
        }
    )
    return start_server(
        env=server_env,
        log_path=workdir / "server.log",
        args=("--migrate" if migrate else "--no-migrate", "--workers", str(workers)),
    )
