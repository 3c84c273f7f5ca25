"""Two chatapp hosts behind one nginx, built for real: each host a network
namespace (``tests.hosts.lan``) running ``chatapp serve --workers 2`` on its
own address; PostgreSQL, Redis and an S3-compatible bucket of the test's own
on the host side of the network; nginx, rendered by ``chatapp deploy nginx``,
balancing over both hosts. Every process is started and ended by PID."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from chatapp.bench.procs import UNTHROTTLED, free_port, stop_process
from tests.conftest import ON_CI
from tests.e2e.server import CHATAPP, base_env
from tests.faults.procs import PostgresCluster, RedisServer, _reap
from tests.hosts.lan import Host, Lan, LanUnavailable
from tests.proxy.nginx import Nginx, configure
from tests.s3server import CREDENTIALS, S3Server

WORKERS = 2
BUCKET = "chatapp-media"
START_LIMIT = 120.0  # s for a host's server to answer /healthz


@dataclass
class HostServer:
    """``chatapp serve`` inside one host."""

    host: Host
    port: int
    folder: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://{self.host.address}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.folder / "server.log"

    @property
    def media_root(self) -> Path:
        return self.folder / "data" / "media"

    def start(self, env: dict[str, str]) -> None:
        command = [
            sys.executable, "-m", "chatapp", "serve",
            "--host", self.host.address, "--port", str(self.port),
            "--workers", str(WORKERS), "--no-migrate",
        ]  # fmt: skip
        env = {**env, "CHATAPP_DATA_DIR": str(self.folder / "data")}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.host.command(command),
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_LIMIT
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.host.namespace} exited:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.host.namespace} never healthy:\n{self.log_tail()}")
            time.sleep(0.2)

    def kill(self) -> list[int]:
        """kill -9 to every process of the host at once; the PIDs killed."""
        killed = self.host.kill_all()
        self._reap(killed)
        return killed

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
        self._reap(self.host.kill_all())

    def _reap(self, pids: list[int]) -> None:
        if self.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(10)
            self.process = None
        # Workers whose master died are re-parented, to this process when a
        # PostgresCluster made it the subreaper: reap those that are ours.
        _reap(pids, 10)

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-4000:]
        return ""


@dataclass
class Cluster:
    lan: Lan
    postgres: PostgresCluster
    s3: S3Server
    nginx: Nginx
    servers: list[HostServer]
    notes: dict[str, str] = field(default_factory=dict)

    def logs(self) -> str:
        return "".join(server.log_path.read_text(errors="replace") for server in self.servers)


def lan_or_fail(count: int) -> Lan:
    """The hosts' network; on CI a machine that refuses namespaces fails the run."""
    lan = Lan(count)
    try:
        lan.up()
    except LanUnavailable as exc:
        if ON_CI:
            pytest.fail(f"CI=true but the multi-host test cannot build its hosts: {exc}")
        pytest.skip(f"cannot build network namespaces here: {exc}")
    return lan


@contextlib.contextmanager
def two_hosts(folder: Path) -> Iterator[Cluster]:
    lan = lan_or_fail(2)
    with contextlib.ExitStack() as stack:
        stack.callback(lan.down)
        gateway = lan.gateway
        redis = RedisServer(folder / "redis", address=gateway)
        stack.callback(redis.stop)
        redis.start()
        postgres = PostgresCluster(address=gateway, clients=str(lan.network))
        stack.callback(postgres.cleanup)
        postgres.start()
        postgres.create_database()
        s3 = S3Server(folder / "moto.log", address=gateway)
        stack.callback(s3.stop)
        s3.start()
        s3.create_bucket(BUCKET)

        addresses = [host.address for host in lan.hosts]
        env = base_env(
            **UNTHROTTLED,
            **CREDENTIALS,
            DATABASE_URL=postgres.url,
            REDIS_URL=redis.url,
            MEDIA_STORAGE_URL=s3.storage_url(BUCKET),
            # One key for every host: a session made on one is good on the other.
            SECRET_KEY="hosts-" + uuid.uuid4().hex * 2,
            ALLOWED_HOSTS=",".join(["localhost", *addresses]),
            # nginx reaches the hosts from the network's first address.
            FORWARDED_ALLOW_IPS=gateway,
            # The tests also talk to each host directly over plain HTTP; the
            # TLS settings behind nginx are the proxy tests' (tests/proxy/).
            HTTPS="false",
            CHAT_SEND_BURST="1000",
            CHAT_SEND_RATE="1000",
            WS_FRAME_BURST="1000",
            WS_FRAME_RATE="1000",
        )
        static_root = folder / "static"
        subprocess.run([CHATAPP, "migrate", "-v0"], env=env, check=True, timeout=300)
        subprocess.run(
            [CHATAPP, "collectstatic", "--noinput", "-v0"],
            env={**env, "STATIC_ROOT": str(static_root)},
            check=True,
            timeout=300,
        )
        port = free_port()  # the same port on every host, as a fleet would use
        servers = []
        for host in lan.hosts:
            server = HostServer(host, port, folder / host.namespace)
            server.folder.mkdir()
            stack.callback(server.stop)
            server.start(env)
            servers.append(server)
        nginx = configure(
            folder / "nginx",
            upstreams=[f"{address}:{port}" for address in addresses],
            static_root=static_root,
            media_root=None,
        )
        stack.callback(nginx.stop)
        nginx.start()
        yield Cluster(lan, postgres, s3, nginx, servers)
