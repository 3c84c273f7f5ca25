"""A connect storm larger than the listen backlog: every socket still gets in
(the kernel drops what the queue cannot hold and the clients' kernels send it
again; refused attempts are retried by the client) and the worker stays up."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.e2e.server import CHATAPP, base_env

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

SOCKETS = 300
BACKLOG = 32


def test_a_storm_ten_times_the_backlog_gets_every_socket_in(
    e2e_database_url: str, redis_url: str, tmp_path: Path
) -> None:
    report_path = tmp_path / "storm.json"
    env = base_env(
        DATABASE_URL=e2e_database_url,
        REDIS_URL=redis_url,
        SECRET_KEY="storm-" + uuid.uuid4().hex * 2,
        CHATAPP_DATA_DIR=str(tmp_path / "data"),
        LISTEN_BACKLOG=str(BACKLOG),  # what the started `chatapp serve` listens with
    )
    command = [CHATAPP, "bench", "connect", "--clients", str(SOCKETS), "--repeat", "1"]
    command += ["--skip-floor", "--sessions", "", "--max-other-cores", "1000"]
    command += ["--json", str(report_path), "--log-dir", str(tmp_path / "logs")]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    [size] = json.loads(report_path.read_text())["sizes"]
    [run] = size["runs"]
    ours = run["chatapp"]
    assert ours["subscribed"] == SOCKETS
    assert ours["failed"] == 0, ours["failures"]
    # The storm did overflow the queue (else this test proves nothing).
    assert ours.get("listen_overflows", 0) > 0 or ours["retried"] > 0, ours
    # The worker stayed up through it: its log has no crash.
    logs = "".join(p.read_text() for p in (tmp_path / "logs").glob("*.log"))
    assert "Traceback" not in logs
    assert "Exception in ASGI application" not in logs


def test_serve_listens_with_the_backlog_it_is_given() -> None:
    from chatapp.cli import serve_parser

    assert serve_parser().parse_args(["--backlog", "16"]).backlog == 16
    assert serve_parser().parse_args([]).backlog == 2048
