"""The command-line options every benchmark shares, and their checks."""

from __future__ import annotations

import argparse
import importlib.util
import sys

from chatapp.bench import say
from chatapp.bench.users import default_cache_path

LAYERS = ("redis", "memory")
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def sizes(text: str) -> list[int]:
    """``--clients``: one size or a comma-separated list, run in the order given
    (``2000,5000,10000``; ``10_000`` reads as 10000)."""
    parts = [part.strip().replace("_", "") for part in text.split(",")]
    try:
        values = [int(part) for part in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a whole number or a comma-separated list of them"
        ) from None
    if any(value < 1 for value in values):
        raise argparse.ArgumentTypeError(f"{text!r}: every size must be at least 1")
    if len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"{text!r} names a size twice")
    return values


def common_parser(prog: str, description: str, *, clients: str) -> argparse.ArgumentParser:
    """The options of every benchmark; ``clients`` is the default of --clients."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument(
        "--url",
        help="target an already running server (http://127.0.0.1:PORT); by default a "
        "`chatapp serve` subprocess is started on a free loopback port",
    )
    p.add_argument("--server-pid", type=int, help="with --url: the server's PID, to read its RSS")
    p.add_argument(
        "--layer",
        choices=LAYERS,
        help="channel layer of the started server: redis (the default, as in production: "
        f"$REDIS_URL, else {DEFAULT_REDIS_URL}) or memory (no REDIS_URL, one worker)",
    )
    p.add_argument("--workers", type=int, default=1, help="uvicorn workers of the started server")
    p.add_argument(
        "--clients",
        type=sizes,
        default=clients,
        metavar="N[,N...]",
        help="sockets (N); a list runs each size in turn, one row each (default: %(default)s)",
    )
    p.add_argument("--procs", type=int, default=2, help="client processes")
    p.add_argument("--repeat", type=int, default=1, help="runs per size; the report gives medians")
    p.add_argument("--json", dest="json_path", help="also write the JSON report here")
    p.add_argument(
        "--plot",
        metavar="FILE.png",
        help="also draw the medians against N, ours and the floor's (needs the bench extra)",
    )
    p.add_argument("--skip-floor", action="store_true", help="do not run the floor")
    p.add_argument(
        "--sessions",
        default=default_cache_path(),
        help="cache of the bench users' session cookies, keyed by database, reused by "
        "later runs ('' registers fresh users every run; default: %(default)s)",
    )
    p.add_argument(
        "--auth",
        choices=["session", "token"],
        default="session",
        help="how the bench users authenticate: a session cookie, as browsers do, or an "
        "API token, as bots and load testers do (needs a server the bench starts)",
    )
    p.add_argument("--register-concurrency", type=int, default=8)
    p.add_argument(
        "--max-other-cores",
        type=float,
        default=0.25,
        help="a run during which other programs kept more cores than this busy is "
        "discarded and run again (default: %(default)s)",
    )
    p.add_argument(
        "--retries", type=int, default=3, help="at most this many discarded runs (default: 3)"
    )
    p.add_argument("--log-dir", help="server logs (default: a new temporary directory)")
    p.add_argument("--setup-only", action="store_true", help="register the users, then stop")
    return p


def check_common(args: argparse.Namespace, prog: str) -> None:
    """Exit with a message on options that cannot run; settle ``args.layer``."""
    if args.procs < 1 or args.repeat < 1 or args.workers < 1:
        sys.exit(f"{prog}: --procs, --repeat and --workers must be at least 1")
    if args.retries < 0:
        sys.exit(f"{prog}: --retries must not be negative")
    if args.url:
        if args.layer:
            say("warning: --layer is ignored with --url (the server is already configured)")
        args.layer = None
    else:
        args.layer = args.layer or "redis"
    if args.plot and importlib.util.find_spec("matplotlib") is None:
        sys.exit(f"{prog}: --plot needs matplotlib: pip install 'chatapp[bench]'")
    if args.layer == "memory" and args.workers > 1:
        sys.exit(
            f"{prog}: the in-memory layer lives in one process; use --workers 1 or --layer redis"
        )


def layer_env(environ: dict[str, str], layer: str) -> dict[str, str]:
    """``environ`` for a server on ``layer``: REDIS_URL kept (or the local default)
    for redis, removed for memory."""
    env = dict(environ)
    if layer == "redis":
        env["REDIS_URL"] = env.get("REDIS_URL") or DEFAULT_REDIS_URL
    else:
        env.pop("REDIS_URL", None)
    return env
