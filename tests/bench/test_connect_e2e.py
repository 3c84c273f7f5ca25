"""`chatapp bench connect` end to end: a short storm against the server it
starts (the real PostgreSQL and Redis of the environment) and against the floor."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.e2e.server import CHATAPP, base_env

pytestmark = pytest.mark.e2e

SOCKETS = 50


@pytest.mark.parametrize("auth", ["session", "token"])
def test_a_short_connect_storm_gets_every_socket_in_on_both_targets(
    e2e_database_url: str, redis_url: str, tmp_path: Path, auth: str
) -> None:
    report_path = tmp_path / "connect.json"
    env = base_env(
        DATABASE_URL=e2e_database_url,
        REDIS_URL=redis_url,
        SECRET_KEY="e2e-" + uuid.uuid4().hex * 2,
        CHATAPP_DATA_DIR=str(tmp_path / "data"),
    )
    command = [CHATAPP, "bench", "connect", "--clients", str(SOCKETS), "--repeat", "1"]
    # No session cache, and no run discarded for what other programs do meanwhile.
    command += ["--sessions", "", "--max-other-cores", "1000", "--json", str(report_path)]
    command += ["--log-dir", str(tmp_path / "logs"), "--auth", auth]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "connects/s" in done.stdout

    report = json.loads(report_path.read_text())
    assert report["benchmark"] == "connect"
    assert report["config"]["layer"] == "redis"
    assert report["config"]["auth"] == auth
    [size] = report["sizes"]
    assert size["clients"] == SOCKETS
    [run] = size["runs"]
    for target in ("chatapp", "floor"):
        result = run[target]
        assert result["failed"] == 0, result["failures"]
        assert result["subscribed"] == SOCKETS
        assert result["connects_per_s"] > 0
        assert size["median"][target]["connects_per_s"] > 0
        assert result["connects_per_s"] == pytest.approx(SOCKETS / result["storm_s"], rel=0.01)
        # Every socket's connect lies within the storm, first attempt to last subscribed.
        assert result["latency_p50_ms"] <= result["latency_p99_ms"] <= result["latency_max_ms"]
        assert result["latency_max_ms"] <= result["storm_s"] * 1000 + 1
        assert result["rss_per_socket_kib"] is not None
    assert size["ratio"]["connects_per_s"] > 0
    assert size["targets"]["every_socket_subscribed"] is True
