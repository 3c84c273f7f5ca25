"""Benchmarks that print figures (``chatapp bench fanout``); never timed tests.

``fanout`` measures room fan-out of a real ``chatapp serve`` against ``floor``,
a bare ASGI broadcast server under the same uvicorn flags, with the same clients.

The modules, one job each: ``options`` (the command line), ``procs`` (server
processes, their RSS and CPU), ``users`` (bench users and their cached
sessions), ``wsclient`` (the socket client), ``clients`` (client worker
processes), ``receivers`` (what those processes run), ``fanout`` (one run),
``runs`` (repeats and discarded runs) and ``report`` (medians, ratios, the
table, JSON).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

BENCHMARKS = ("fanout",)


class BenchError(RuntimeError):
    """A run cannot go on; the message says why."""


def say(text: str) -> None:
    """A progress line on stderr (stdout carries the report)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def main(argv: Sequence[str]) -> None:
    """``chatapp bench <name> [options]``."""
    args = list(argv)
    if not args or args[0] in {"-h", "--help"}:
        print(f"usage: chatapp bench {{{','.join(BENCHMARKS)}}} [options]")
        print("  fanout  deliveries/s, latency, loss and RSS per socket against a bare ASGI floor")
        return
    if args[0] == "fanout":
        from chatapp.bench.fanout import main as fanout_main

        fanout_main(args[1:])
        return
    sys.exit(f"chatapp bench: unknown benchmark {args[0]!r}; choose from {', '.join(BENCHMARKS)}")
