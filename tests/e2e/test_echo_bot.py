"""examples/echo_bot.py against real servers: it answers mentions, and after
losing its server it resumes from the last seq it saw, so the mentions sent
while it was away are each answered once."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.client import Tab, register
from tests.e2e.server import CHATAPP, Server, base_env, start_server, stop

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

BOT = Path(__file__).resolve().parents[2] / "examples" / "echo_bot.py"
WAIT = 30.0  # s for the bot to come up, or to answer


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Servers and the bot, stopped by PID at the end whatever happened."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in reversed(started):
        stop(process)


def serve(processes: list[subprocess.Popen[bytes]], **options: Any) -> Server:
    server = start_server(**options)
    assert server.process is not None
    processes.append(server.process)
    return server


def wait_for_line(log: Path, text: str, after: int = 0) -> None:
    """Until ``text`` appears in ``log`` past its first ``after`` characters."""
    deadline = time.monotonic() + WAIT
    while text not in log.read_text()[after:]:
        assert time.monotonic() < deadline, f"no {text!r} in {log}:\n{log.read_text()[-3000:]}"
        time.sleep(0.1)


async def answers(tab: Tab, expected: set[str], settle: float = 1.5) -> Counter[str]:
    """The bot's messages seen by ``tab`` until all of ``expected`` came, then
    for ``settle`` seconds more, so a second answer would be seen too."""
    seen: Counter[str] = Counter()
    deadline = time.monotonic() + WAIT
    quiet_from: float | None = None
    while quiet_from is None or time.monotonic() < quiet_from + settle:
        assert time.monotonic() < deadline, f"answers so far: {dict(seen)}"
        try:
            frame = await tab.recv_type("message", timeout=0.2)
        except TimeoutError:
            continue
        message = frame["message"]
        if message["author"]["username"] == "echo":
            seen[message["body"]] += 1
        if quiet_from is None and expected <= set(seen):
            quiet_from = time.monotonic()
    return seen


async def test_the_bot_answers_every_mention_once_across_a_reconnect(
    processes: list[subprocess.Popen[bytes]],
    e2e_database_url: str,
    redis_url: str,
    tmp_path: Path,
) -> None:
    env = base_env(
        DATABASE_URL=e2e_database_url,
        REDIS_URL=redis_url,
        SECRET_KEY="bot-" + uuid.uuid4().hex * 2,
        CHATAPP_DATA_DIR=str(tmp_path / "data"),
        DRAIN_SECONDS="0.2",
    )
    # The bot's server and the people's server share the database and Redis.
    bots = serve(processes, env=env, log_path=tmp_path / "bots.log", args=("--migrate",))
    people = serve(processes, env=env, log_path=tmp_path / "people.log")

    alice = await register(people.base, "alice")
    await register(people.base, "echo")
    token = subprocess.run(
        [CHATAPP, "tokens", "create", "echo", "--name", "echo bot"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    bot_log = tmp_path / "bot.log"
    with bot_log.open("wb") as out:
        bot = subprocess.Popen(
            [sys.executable, str(BOT), bots.base],
            env={**env, "CHATAPP_TOKEN": token},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    processes.append(bot)
    wait_for_line(bot_log, "subscribed after seq")

    tab = await Tab.open(people.base, alice)
    lobby = tab.lobby
    assert lobby is not None
    await tab.subscribe(lobby)
    await tab.send({"type": "send", "room": lobby, "body": "@echo hi", "client_id": "a0"})
    assert await answers(tab, {"@alice you said: @echo hi"}, settle=0) == Counter(
        {"@alice you said: @echo hi": 1}
    )

    # The bot's server goes away (1012 to its socket); meanwhile alice, on the
    # other server, names it three times and once writes without naming it.
    logged = len(bot_log.read_text())
    assert bots.process is not None
    stop(bots.process)  # SIGTERM: its sockets are closed with 1012
    wait_for_line(bot_log, "socket closed", after=logged)
    bodies = ["@ECHO ping 1", "ping 2, @echo", "not for the bot", "@echo: ping 3"]
    for n, body in enumerate(bodies, start=1):
        await tab.send({"type": "send", "room": lobby, "body": body, "client_id": f"a{n}"})
        assert (await tab.recv_type("ack"))["client_id"] == f"a{n}"

    port = int(bots.base.rsplit(":", 1)[1])
    serve(processes, env=env, log_path=tmp_path / "bots.log", port=port)
    expected = {f"@alice you said: {body}" for body in bodies if "@" in body}
    seen = await answers(tab, expected)
    assert seen == Counter(expected), seen
    await tab.close()

    # What is stored agrees: each mention answered once, the first included.
    async with httpx.AsyncClient(base_url=people.base, cookies={"sessionid": alice}) as http:
        history = (await http.get(f"/api/rooms/{lobby}/messages?limit=100")).json()["messages"]
    stored = Counter(m["body"] for m in history if m["author"]["username"] == "echo")
    assert stored == Counter(expected | {"@alice you said: @echo hi"})
    assert bot.poll() is None, bot_log.read_text()[-3000:]
    for log in ("bots.log", "people.log", "bot.log"):
        assert "Traceback" not in (tmp_path / log).read_text(), log
