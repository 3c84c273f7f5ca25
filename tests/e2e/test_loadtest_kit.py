"""The load-test kit (loadtest/, docs/loadtest.md) as a load tester runs it:
a real `chatapp serve`, `chatapp loadtest users`, then Locust and Artillery
headless for a few seconds, judged by the figures each tool writes."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ON_CI
from tests.e2e.server import CHATAPP, base_env, chatapp_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
KIT = REPO / "loadtest"
LOCUST = str(Path(sys.executable).with_name("locust"))
USERS = 20
TOOL_LIMIT = 90  # s for one run of a tool, its start and its report included


@dataclass
class Target:
    base: str
    users_csv: Path
    log: Path


@pytest.fixture
def target(e2e_database_url: str, tmp_path: Path) -> Iterator[Target]:
    """A server as on staging (DEBUG off), with USERS load-test users in a CSV."""
    env = base_env(
        DATABASE_URL=e2e_database_url,
        SECRET_KEY="kit-" + uuid.uuid4().hex * 2,
        CHATAPP_DATA_DIR=str(tmp_path / "data"),
    )
    log = tmp_path / "server.log"
    with chatapp_server(env=env, log_path=log, args=("--migrate",)) as base:
        users_csv = tmp_path / "users.csv"
        subprocess.run(
            [CHATAPP, "loadtest", "users", str(USERS), "--out", str(users_csv), "--force"],
            env=env,
            check=True,
            timeout=60,
        )
        yield Target(base, users_csv, log)
    assert "Traceback" not in log.read_text(), log.read_text()[-4000:]


def test_locust_acknowledges_and_delivers_every_message(target: Target, tmp_path: Path) -> None:
    prefix = tmp_path / "locust"
    run = subprocess.run(
        [
            *(LOCUST, "-f", str(KIT / "locustfile.py"), "--host", target.base),
            *("--users-csv", str(target.users_csv), "--headless", "--only-summary"),
            *("-u", str(USERS), "-r", str(USERS), "-t", "8s", "--csv", str(prefix)),
        ],
        capture_output=True,
        text=True,
        timeout=TOOL_LIMIT,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    assert "Traceback" not in run.stderr, run.stderr[-4000:]
    with open(f"{prefix}_stats.csv", newline="") as handle:
        stats = {row["Name"]: row for row in csv.DictReader(handle) if row["Type"] == "WS"}
    assert set(stats) == {"connect", "subscribe", "send→ack", "send→receive"}, stats.keys()
    assert {name: int(row["Failure Count"]) for name, row in stats.items()} == dict.fromkeys(
        stats, 0
    )
    assert int(stats["connect"]["Request Count"]) == USERS  # one socket each, never dropped
    assert int(stats["subscribe"]["Request Count"]) == USERS
    # 20 users at 1 message a second for 8 s: 160, less the start and what is in flight.
    assert int(stats["send→ack"]["Request Count"]) >= USERS * 3
    assert int(stats["send→receive"]["Request Count"]) >= USERS * 3
    with open(f"{prefix}_exceptions.csv", newline="") as handle:
        assert list(csv.DictReader(handle)) == []


def artillery() -> str:
    """Artillery 2, installed under the checkout by loadtest/install-artillery.sh
    (.ci/run has done it already on CI). Without Node.js: a failure on CI, a
    skip elsewhere."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        message = "Node.js and npm are needed to run Artillery"
        if ON_CI:
            pytest.fail(f"CI=true but {message}", pytrace=False)
        pytest.skip(message)
    install = subprocess.run(
        ["bash", str(KIT / "install-artillery.sh")], capture_output=True, text=True, timeout=600
    )
    if install.returncode != 0:
        pytest.fail(f"Artillery could not be installed:\n{install.stderr[-4000:]}", pytrace=False)
    return install.stdout.strip().splitlines()[-1]


def test_artillery_acknowledges_and_delivers_every_message(target: Target, tmp_path: Path) -> None:
    program = artillery()
    sends = 5
    report = tmp_path / "report.json"
    env = {
        **os.environ,
        "ARTILLERY_DISABLE_TELEMETRY": "true",
        "NODE_OPTIONS": f"--require {KIT / 'artillery-offline.js'}",
    }
    phases = [{"duration": 2, "arrivalRate": USERS // 2}]
    run = subprocess.run(
        [
            *(program, "run", "--target", target.base, "-p", str(target.users_csv)),
            *("--overrides", json.dumps({"config": {"phases": phases}})),
            *("--variables", json.dumps({"sends": sends}), "--output", str(report)),
            str(KIT / "artillery.yml"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=TOOL_LIMIT,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    aggregate = json.loads(report.read_text())["aggregate"]
    counters, summaries = aggregate["counters"], aggregate["summaries"]
    assert [name for name in counters if name.startswith("errors.")] == [], counters
    assert counters.get("vusers.failed", 0) == 0
    assert counters["vusers.completed"] == USERS
    assert counters["websocket.messages_sent"] == USERS * sends
    assert counters["chatapp.acks"] == USERS * sends
    assert counters["chatapp.received"] == USERS * sends
    for name in ("chatapp.subscribe", "chatapp.send_to_ack", "chatapp.send_to_receive"):
        assert summaries[name]["count"] > 0 and summaries[name]["max"] < 10_000, summaries[name]
