"""The hosts' network itself: each host reaches the host side on its own
address, nothing is left behind, even when building it fails half-way, and a
machine that refuses namespaces fails CI instead of skipping."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from tests.hosts import cluster, lan
from tests.hosts.lan import Lan, LanUnavailable


def namespaces() -> str:
    return lan.ip("netns", "list")


def links() -> str:
    return lan.ip("-br", "link")


def test_each_host_reaches_the_host_side_from_its_own_address() -> None:
    built = cluster.lan_or_fail(2)
    try:
        assert built.network is not None and built.network.prefixlen == 24
        with socket.create_server((built.gateway, 0)) as server:
            port = server.getsockname()[1]
            for host in built.hosts:
                probe = "import socket; print(socket.create_connection((%r, %d)).getsockname()[0])"
                done = subprocess.run(
                    host.command([sys.executable, "-c", probe % (built.gateway, port)]),
                    capture_output=True,
                    text=True,
                    timeout=30,
                    check=True,
                )
                peer, _ = server.accept()
                peer.close()
                assert done.stdout.strip() == host.address
        assert len({host.address for host in built.hosts}) == 2
    finally:
        made = [host.namespace for host in built.hosts]
        built.down()
    assert len(made) == 2 and not any(name in namespaces() for name in made)
    assert built.bridge not in links() and f"chv{built.tag}" not in links()


def test_a_half_built_network_is_removed(monkeypatch: pytest.MonkeyPatch) -> None:
    cluster.lan_or_fail(1).down()  # this machine can build one at all
    real_ip = lan.ip
    at_failure: list[str] = []

    def fail_on_loopback(*args: str) -> str:
        if args[-2:] == ("lo", "up"):  # the last step of the first host
            at_failure.append(namespaces() + links())
            raise subprocess.CalledProcessError(2, ["ip", *args], "", "refused for the test")
        return real_ip(*args)

    monkeypatch.setattr(lan, "ip", fail_on_loopback)
    half = Lan(2)
    with pytest.raises(LanUnavailable, match="refused for the test"):
        half.up()
    monkeypatch.undo()
    [before] = at_failure
    assert f"chatapp-{half.tag}-0" in before and f"chbr{half.tag}" in before
    assert f"chatapp-{half.tag}" not in namespaces()
    assert f"chbr{half.tag}" not in links() and f"chv{half.tag}" not in links()


@pytest.mark.parametrize(("on_ci", "outcome"), [(True, "fail"), (False, "skip")])
def test_a_machine_without_namespaces_fails_ci_and_skips_elsewhere(
    monkeypatch: pytest.MonkeyPatch, on_ci: bool, outcome: str
) -> None:
    monkeypatch.setattr(cluster, "ON_CI", on_ci)
    monkeypatch.setattr(lan.os, "geteuid", lambda: 1000)
    expected = pytest.fail.Exception if outcome == "fail" else pytest.skip.Exception
    with pytest.raises(expected, match="root"):
        cluster.lan_or_fail(2)
