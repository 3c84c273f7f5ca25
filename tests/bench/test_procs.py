"""Server processes: a failed start says why, a stubborn process is killed, and
the CPU of one phase is split between the server, its dependencies and others."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chatapp.bench.procs import (
    CpuReading,
    ServerFailed,
    cpu_use,
    dependencies_cpu_seconds,
    free_port,
    listen_overflows,
    start_process,
    stop_process,
    tree_cpu_seconds,
    tree_rss_kib,
)


def test_a_server_that_exits_fails_the_start_with_its_log(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    command = [sys.executable, "-c", "print('no database here'); raise SystemExit(3)"]
    with pytest.raises(ServerFailed, match="exited with 3") as failed:
        start_process("chatapp", command, env={}, log_path=log, port=free_port())
    assert "no database here" in str(failed.value)


def test_stop_kills_a_process_that_ignores_sigterm(tmp_path: Path) -> None:
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, start_new_session=True
    )
    assert process.stdout is not None and process.stdout.readline() == b"ready\n"
    started = time.monotonic()
    stop_process(process, timeout=0.5)
    assert process.returncode == -9
    assert time.monotonic() - started < 10


def test_listen_overflows_is_read_from_the_tcpext_lines(tmp_path: Path) -> None:
    netstat = tmp_path / "netstat"
    netstat.write_text(
        "TcpExt: SyncookiesSent ListenOverflows ListenDrops\n"
        "TcpExt: 0 15099 15100\n"
        "IpExt: InNoRoutes ListenOverflows\n"
        "IpExt: 0 7\n"
    )
    assert listen_overflows(netstat) == 15099
    netstat.write_text("IpExt: InNoRoutes\nIpExt: 0\n")
    assert listen_overflows(netstat) is None
    assert listen_overflows(tmp_path / "missing") is None


def test_rss_and_cpu_of_this_process_tree_are_read_from_proc() -> None:
    assert (tree_rss_kib(os.getpid()) or 0) > 1000
    assert tree_rss_kib(None) is None
    assert tree_cpu_seconds(os.getpid()) > 0
    before = dependencies_cpu_seconds()
    assert 0 <= before <= dependencies_cpu_seconds()


def _reading(
    wall: float, server: float | None, deps: float, machine: float, own: float
) -> CpuReading:
    return CpuReading(wall=wall, server=server, dependencies=deps, machine=machine, own=own)


def test_cpu_use_leaves_as_interference_only_what_nobody_measured_claims() -> None:
    before = _reading(100.0, 10.0, 50.0, 1000.0, 1.0)
    # In 2 s: server 1 s, PostgreSQL+Redis 0.5 s, clients 0.8 s, the bench 0.1 s,
    # the whole machine 2.6 s: 0.2 s left for other programs.
    after = _reading(102.0, 11.0, 50.5, 1002.6, 1.1)
    use = cpu_use(before, after, client_cpu=0.8)
    assert use["server_cpu_s"] == pytest.approx(1.0)
    assert use["server_cores_busy"] == 0.5
    assert use["deps_cores_busy"] == 0.25
    assert use["other_cores_busy"] == 0.1


def test_cpu_use_without_the_server_pid_claims_no_interference() -> None:
    use = cpu_use(
        _reading(0.0, None, 0.0, 0.0, 0.0), _reading(1.0, None, 0.3, 0.9, 0.0), client_cpu=0.0
    )
    assert use == {"deps_cpu_s": 0.3, "deps_cores_busy": 0.3}


def test_other_cores_busy_is_never_negative() -> None:
    use = cpu_use(
        _reading(0.0, 0.0, 0.0, 0.0, 0.0), _reading(1.0, 1.0, 0.5, 1.2, 0.0), client_cpu=0.5
    )
    assert use["other_cores_busy"] == 0.0
