"""Hosts of a test's own, as Linux network namespaces on a private /24.

The root namespace is the hosts' LAN side: a bridge holds the network's first
address (where the test's PostgreSQL, Redis and S3 listen, and where nginx
connects from), and each host is a namespace with its own address, its own
loopback and a veth pair whose root end is on the bridge. The network is
picked at random among 10.x.y.0/24 networks that no route of this machine
uses, so parallel runs and real networks do not clash.

Everything made is removed again by ``down``, failure or not; processes still
inside a namespace are killed (SIGKILL, by PID) before it goes.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import random
import shutil
import signal
import subprocess
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

IP = shutil.which("ip") or "/usr/sbin/ip"


class LanUnavailable(RuntimeError):
    """This machine does not let the test make namespaces (not root, no ``ip``,
    or the kernel refuses)."""


def ip(*args: str) -> str:
    done = subprocess.run([IP, *args], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise subprocess.CalledProcessError(
            done.returncode, ["ip", *args], done.stdout, done.stderr
        )
    return done.stdout


@dataclass(frozen=True)
class Host:
    namespace: str
    address: str
    veth: str  # the root namespace's end of its veth pair

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside this host's namespace."""
        return [IP, "netns", "exec", self.namespace, *argv]

    def pids(self) -> list[int]:
        """Every process running in this host's namespace."""
        return [int(pid) for pid in ip("netns", "pids", self.namespace).split()]

    def kill_all(self) -> list[int]:
        """SIGKILL every process of this host at once, as a host that dies does;
        the PIDs killed."""
        killed = self.pids()
        for pid in killed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return killed


def _used_networks() -> list[ipaddress.IPv4Network]:
    routes = json.loads(ip("-4", "-j", "route", "show", "table", "all") or "[]")
    addresses = json.loads(ip("-4", "-j", "addr", "show") or "[]")
    used = []
    for route in routes:
        dst = route.get("dst", "")
        if dst and dst != "default":
            with contextlib.suppress(ValueError):
                used.append(ipaddress.ip_network(dst, strict=False))
    for link in addresses:
        for info in link.get("addr_info", []):
            used.append(ipaddress.ip_network(f"{info['local']}/{info['prefixlen']}", strict=False))
    return used


def pick_network() -> ipaddress.IPv4Network:
    used = _used_networks()
    for _ in range(100):
        candidate = ipaddress.ip_network(
            f"10.{random.randint(64, 250)}.{random.randint(0, 255)}.0/24"
        )
        if not any(candidate.overlaps(other) for other in used):
            return candidate
    raise LanUnavailable("no free 10.x.y.0/24 network found")


@dataclass
class Lan:
    """``count`` hosts on one private /24 (see the module's docstring)."""

    count: int
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    network: ipaddress.IPv4Network | None = None
    hosts: list[Host] = field(default_factory=list)
    _bridge_made: bool = False

    @property
    def bridge(self) -> str:
        return f"chbr{self.tag}"  # interface names have at most 15 characters

    @property
    def gateway(self) -> str:
        """The root namespace's address on the network: the services' side."""
        assert self.network is not None
        return str(self.network.network_address + 1)

    def up(self) -> None:
        if os.geteuid() != 0:
            raise LanUnavailable("network namespaces need root (CI runs as root)")
        if not os.path.exists(IP):
            raise LanUnavailable("the ip command (iproute2) is not installed")
        try:
            self._build()
        except subprocess.CalledProcessError as exc:
            self.down()
            raise LanUnavailable(f"{' '.join(exc.cmd)}: {exc.stderr.strip()}") from exc
        except BaseException:
            self.down()
            raise

    def _build(self) -> None:
        self.network = pick_network()
        prefix = self.network.prefixlen
        ip("link", "add", self.bridge, "type", "bridge")
        self._bridge_made = True
        ip("addr", "add", f"{self.gateway}/{prefix}", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        for index in range(self.count):
            host = Host(
                namespace=f"chatapp-{self.tag}-{index}",
                address=str(self.network.network_address + 2 + index),
                veth=f"chv{self.tag}{index}",
            )
            ip("netns", "add", host.namespace)
            self.hosts.append(host)
            ip("link", "add", host.veth, "type", "veth", "peer", "name", "eth0",
               "netns", host.namespace)  # fmt: skip
            ip("link", "set", host.veth, "master", self.bridge, "up")
            inside = ("-n", host.namespace)
            ip(*inside, "addr", "add", f"{host.address}/{prefix}", "dev", "eth0")
            ip(*inside, "link", "set", "eth0", "up")
            ip(*inside, "link", "set", "lo", "up")

    def down(self) -> None:
        """Kill what runs in each host, delete the namespaces (their veth pairs go
        with them), then the bridge. Each step runs even if one before failed."""
        for host in self.hosts:
            with contextlib.suppress(subprocess.CalledProcessError, OSError):
                host.kill_all()
            with contextlib.suppress(subprocess.CalledProcessError):
                ip("netns", "del", host.namespace)
            with contextlib.suppress(subprocess.CalledProcessError):
                ip("link", "del", host.veth)  # already gone unless the namespace lingered
        self.hosts = []
        if self._bridge_made:
            with contextlib.suppress(subprocess.CalledProcessError):
                ip("link", "del", self.bridge)
            self._bridge_made = False
