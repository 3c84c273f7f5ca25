"""The lifespan wrapper (``config.lifespan``): hooks run in order, a failing
startup is reported, and a shutdown hook that hangs cannot keep a worker alive."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from config import lifespan as lifespan_module
from config.lifespan import Lifespan


async def _run(app: Lifespan, *events: str) -> list[dict[str, Any]]:
    incoming = [{"type": event} for event in events]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await asyncio.wait_for(app({"type": "lifespan"}, receive, send), 5)  # type: ignore[arg-type]
    return sent


async def _unused(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("not a lifespan scope")


async def test_hooks_run_and_a_hung_shutdown_hook_is_abandoned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(lifespan_module, "SHUTDOWN_HOOK_TIMEOUT", 0.1)
    calls: list[str] = []

    async def start() -> None:
        calls.append("start")

    async def hang() -> None:
        calls.append("hang")
        await asyncio.Event().wait()

    async def close() -> None:
        calls.append("close")

    app = Lifespan(_unused, startup=[start], shutdown=[close, hang])
    sent = await _run(app, "lifespan.startup", "lifespan.shutdown")
    assert calls == ["start", "hang", "close"]  # shutdown hooks in reverse, all of them
    assert sent[0] == {"type": "lifespan.startup.complete"}
    assert sent[1]["type"] == "lifespan.shutdown.failed"


async def test_a_failing_startup_is_reported() -> None:
    async def broken() -> None:
        raise RuntimeError("no database")

    sent = await _run(Lifespan(_unused, startup=[broken]), "lifespan.startup")
    assert sent[0]["type"] == "lifespan.startup.failed"
    assert "no database" in sent[0]["message"]
