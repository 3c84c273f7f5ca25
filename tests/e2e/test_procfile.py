"""The Procfile under a Procfile runner (honcho), as a PaaS runs it: the
release process migrates, the web process serves on $PORT with
$WEB_CONCURRENCY workers, and both stop when the runner is told to."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from chatapp.bench.procs import free_port
from tests.e2e.server import base_env

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).parents[2]
HONCHO = str(Path(sys.executable).with_name("honcho"))


def test_the_procfile_runs_under_honcho(
    e2e_database_url: str, redis_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = base_env(
        DATABASE_URL=e2e_database_url,
        REDIS_URL=redis_url,
        SECRET_KEY="procfile-" + uuid.uuid4().hex * 2,
        CHATAPP_DATA_DIR=str(tmp_path / "data"),
        PORT=str(port),
        WEB_CONCURRENCY="2",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    )
    procfile = ["-f", str(ROOT / "Procfile"), "-d", str(ROOT)]
    release = subprocess.run(
        [HONCHO, *procfile, "start", "release"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert release.returncode == 0, release.stdout[-3000:]
    assert "Applying chat." in release.stdout or "No migrations to apply" in release.stdout

    log = (tmp_path / "web.log").open("wb")
    web = subprocess.Popen(
        [HONCHO, *procfile, "start", "web"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        health = None
        while time.monotonic() < deadline and web.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert health is not None, (tmp_path / "web.log").read_text()[-3000:]
        assert health.json() == {"status": "ok", "db": "ok", "layer": "ok"}
        lobby = httpx.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=5)
        assert lobby.status_code == 200
    finally:
        web.send_signal(signal.SIGTERM)  # honcho passes it on to chatapp serve
        try:
            web.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(web.pid, signal.SIGKILL)
            web.wait()
            pytest.fail("honcho did not stop within 30 s of SIGTERM")
    output = (tmp_path / "web.log").read_text()
    assert output.count("Started server process") == 2, output[-3000:]  # WEB_CONCURRENCY
    assert "Traceback" not in output
