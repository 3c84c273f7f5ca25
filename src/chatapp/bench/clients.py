"""Client worker processes: the bench's sockets live outside the bench process.

The bench spawns P processes, gives each its share of the sessions, and talks to
each over a pipe with a few named messages (``("ready", {...})``, ``("finish",
deadline)`` …). Every wait is bounded; every process is stopped by its handle.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import signal
from collections.abc import Callable, Coroutine, Iterable, Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from types import TracebackType
from typing import Any, TypeVar

from chatapp.bench import BenchError

T = TypeVar("T")
JOIN_LIMIT = 30.0  # s for a client process to exit once told to


def chunks(items: Sequence[T], parts: int) -> list[list[T]]:
    """``items`` dealt round-robin into at most ``parts`` non-empty lists."""
    parts = max(1, min(parts, len(items)))
    return [chunk for index in range(parts) if (chunk := list(items[index::parts]))]


async def answer(conn: Connection, limit: float, what: str) -> dict[str, Any]:
    """The next message of one client process, which must be ``(what, payload)``."""
    if not await asyncio.to_thread(conn.poll, limit):
        raise BenchError(f"a client process did not report {what} within {limit:.0f} s")
    try:
        kind, payload = conn.recv()
    except EOFError as exc:
        raise BenchError(f"a client process died before reporting {what}") from exc
    if kind != what:
        raise BenchError(f"a client process reported {kind!r}, not {what!r}")
    return dict(payload)


async def command(conn: Connection, limit: float) -> tuple[Any, ...] | None:
    """In a client process: the bench's next command, or None if it went away."""
    if not await asyncio.to_thread(conn.poll, limit):
        return None
    try:
        received = conn.recv()
    except EOFError:
        return None
    return received if isinstance(received, tuple) else None


class ClientPool:
    """Client processes started with one config each; stopped on leaving ``async with``."""

    def __init__(self) -> None:
        self.processes: list[BaseProcess] = []
        self.conns: list[Connection] = []

    def start(self, target: Callable[[Any, Connection], None], configs: Iterable[Any]) -> None:
        context = multiprocessing.get_context("spawn")
        for config in configs:
            parent, child = context.Pipe()
            process = context.Process(target=target, args=(config, child), daemon=True)
            process.start()
            child.close()
            self.processes.append(process)
            self.conns.append(parent)

    async def collect(self, what: str, limit: float) -> list[dict[str, Any]]:
        """``what`` from every process, in order."""
        return [await answer(conn, limit, what) for conn in self.conns]

    def tell(self, *message: Any) -> None:
        for conn in self.conns:
            conn.send(message)

    async def stop(self) -> None:
        for process in self.processes:
            await asyncio.to_thread(process.join, JOIN_LIMIT)
            if process.is_alive():
                process.terminate()
                await asyncio.to_thread(process.join, 5)
            if process.is_alive():
                process.kill()
                await asyncio.to_thread(process.join, 5)
        for conn in self.conns:
            conn.close()

    async def __aenter__(self) -> ClientPool:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()


def run_client(
    main: Callable[[Any, Connection], Coroutine[Any, Any, None]], config: Any, conn: Connection
) -> None:
    """The body of a client process: ``main(config, conn)`` on uvloop when installed."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the bench stops us
    run: Callable[[Coroutine[Any, Any, None]], None] = asyncio.run
    with contextlib.suppress(ImportError):
        import uvloop

        run = uvloop.run
    try:
        run(main(config, conn))
    finally:
        conn.close()


def describe(exc: BaseException) -> str:
    """An exception as a short counter key."""
    return f"{type(exc).__name__}: {str(exc)[:100]}"
