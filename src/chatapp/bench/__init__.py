"""Benchmarks that print figures (``chatapp bench fanout``); never timed tests.

``fanout`` measures room fan-out of a real ``chatapp serve`` against ``floor``,
a bare ASGI broadcast server under the same uvicorn flags.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

BENCHMARKS = ("fanout",)


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
