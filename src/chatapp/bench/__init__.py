"""Benchmarks that print figures (``chatapp bench fanout``, ``chatapp bench
connect``); never timed tests.

Both measure a real ``chatapp serve`` against ``floor``, a bare ASGI server
under the same uvicorn flags, with the same clients:

- ``fanout``: one room fanning messages out to N subscribed sockets;
- ``connect``: N sockets opening at once through the real connect path.

The modules, one job each: ``options`` (the shared command-line options),
``procs`` (server processes, their RSS and CPU), ``users`` (bench users and
their cached sessions), ``wsclient`` (the socket client, shared with the
end-to-end tests), ``clients`` (client worker processes), ``receivers`` and
``storm`` (what those processes run), ``sender`` (the fan-out's sending
socket), ``fanout`` and ``connect`` (one run of each benchmark), ``runs``
(sizes, repeats and discarded runs), ``report`` (medians, ratios, tables,
JSON) and ``plot`` (figures, with the optional ``bench`` extra).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

BENCHMARKS = ("fanout", "connect")


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
        print("  fanout   deliveries/s, latency, loss and RSS per socket against a bare ASGI floor")
        print("  connect  a connect storm: connects/s, connect latency, refusals, RSS per socket")
        return
    if args[0] == "fanout":
        from chatapp.bench.fanout import main as fanout_main

        fanout_main(args[1:])
        return
    if args[0] == "connect":
        from chatapp.bench.connect import main as connect_main

        connect_main(args[1:])
        return
    sys.exit(f"chatapp bench: unknown benchmark {args[0]!r}; choose from {', '.join(BENCHMARKS)}")
