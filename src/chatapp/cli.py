"""The ``chatapp`` console command.

``chatapp serve`` runs the ASGI app under uvicorn with the flags this app
needs; every other word is a Django management command (``chatapp migrate``,
``chatapp createsuperuser``, ``chatapp check --deploy`` …).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence

from chatapp.core.serving import LISTEN_BACKLOG, WS_MAX_SIZE
from config.env import Env, SettingError

SETTINGS = "config.settings"


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS)
    try:
        run(args)
    except SettingError as exc:
        # A setting the environment gets wrong: one line that names it, no traceback.
        sys.exit(f"chatapp: {exc}")


def run(args: list[str]) -> None:
    if args and args[0] == "serve":
        serve(args[1:])
        return
    if args and args[0] == "deploy":
        from chatapp.deploy import main as deploy_main

        deploy_main(args[1:])
        return
    if args and args[0] == "bench":
        from chatapp.bench import main as bench_main

        bench_main(args[1:])
        return
    import django
    from django.core.management import execute_from_command_line

    # Settings first, so that a bad one stops every command here: Django's own
    # command line would put off the error (or, for some commands, skip it).
    django.setup()
    execute_from_command_line(["chatapp", *args])


def _env_int(name: str, default: int, minimum: int = 1, maximum: int | None = None) -> int:
    return Env().int(name, default=default, minimum=minimum, maximum=maximum)


def serve_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chatapp serve",
        description="Serve pages, the JSON API and /ws/ with uvicorn.",
    )
    parser.add_argument("--host", default=Env().str("HOST", default="").strip() or "127.0.0.1")
    parser.add_argument("--port", type=int, default=_env_int("PORT", 8000, 0, 65535))
    parser.add_argument(
        "--workers",
        type=int,
        default=_env_int("WEB_CONCURRENCY", 1),
        help="worker processes (default: $WEB_CONCURRENCY or 1); more than one needs Redis",
    )
    parser.add_argument(
        "--migrate",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="apply migrations before serving (default: only with the embedded database)",
    )
    parser.add_argument(
        "--collectstatic",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="collect static files before serving (default: yes)",
    )
    parser.add_argument(
        "--forwarded-allow-ips",
        default=Env().str("FORWARDED_ALLOW_IPS", default="").strip() or "127.0.0.1",
        help="proxies whose X-Forwarded-For/-Proto headers are trusted",
    )
    parser.add_argument("--ws-ping-interval", type=float, default=20.0)
    parser.add_argument("--ws-ping-timeout", type=float, default=20.0)
    parser.add_argument(
        "--graceful-timeout",
        type=int,
        default=_env_int("GRACEFUL_TIMEOUT", 10),
        help="seconds open connections get to finish on shutdown",
    )
    parser.add_argument(
        "--backlog",
        type=int,
        default=_env_int("LISTEN_BACKLOG", LISTEN_BACKLOG),
        help=f"listen queue of the socket (default: $LISTEN_BACKLOG or {LISTEN_BACKLOG})",
    )
    parser.add_argument("--log-level", default=Env().log_level("LOG_LEVEL", "INFO").lower())
    return parser


def serve(argv: Sequence[str]) -> None:
    args = serve_parser().parse_args(argv)
    if args.workers < 1:
        sys.exit("chatapp serve: --workers must be at least 1")
    has_redis = any(os.environ.get(name, "").strip() for name in ("REDIS_URL", "REDIS_SENTINELS"))
    if args.workers > 1 and not has_redis:
        sys.exit(
            "chatapp serve: more than one worker needs REDIS_URL. Without Redis the "
            "channel layer lives in one process, so workers could not reach each "
            "other's sockets. Set REDIS_URL (or REDIS_SENTINELS) or use --workers 1."
        )

    # Before anything imports prometheus_client: the workers write their metrics
    # there and /metrics on any of them sums them all.
    from chatapp.core import metrics_dir

    metrics_path = metrics_dir.prepare()

    import django
    from django.core.management import call_command
    from django.db import connections

    django.setup()  # starts the embedded PostgreSQL when DATABASE_URL is unset
    from django.conf import settings

    from config.embedded import is_embedded

    if args.migrate if args.migrate is not None else is_embedded():
        call_command("migrate", interactive=False, verbosity=1)
    if args.collectstatic:
        call_command("collectstatic", interactive=False, verbosity=0)
    connections.close_all()  # workers open their own

    import uvicorn

    _raise_open_file_limit()
    metrics_dir.watch(metrics_path)  # a worker that dies stops counting its sockets

    # uvicorn re-raises SIGTERM once it has shut down gracefully. Turning it into
    # SystemExit lets atexit hooks run, which stop the embedded PostgreSQL.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    uvicorn.run(
        "config.asgi:application",
        host=args.host,
        port=args.port,
        workers=args.workers,
        lifespan="on",
        proxy_headers=True,
        forwarded_allow_ips=args.forwarded_allow_ips,
        ws_max_size=WS_MAX_SIZE,
        ws_per_message_deflate=False,
        ws_ping_interval=args.ws_ping_interval,
        ws_ping_timeout=args.ws_ping_timeout,
        # The drain (DRAIN_SECONDS) comes first, inside the graceful timeout.
        timeout_graceful_shutdown=max(1, round(args.graceful_timeout - settings.DRAIN_SECONDS)),
        backlog=args.backlog,
        log_level=args.log_level,
        # uvicorn's messages go through the app's logging (LOG_FORMAT); its access
        # log is replaced by the app's (chatapp.core.access), which leaves out the
        # query string and names the request id.
        log_config=None,
        access_log=False,
        server_header=False,
        # websockets' sans-I/O protocol (it awaits the transport, so slow
        # clients push back), closing a failed connection with a full handshake.
        ws="chatapp.core.ws_protocol:LingeringWebSocketProtocol",
        # httptools with a header deadline and header size limits (408/414/431).
        http="chatapp.core.http_protocol:GuardedHttpToolsProtocol",
    )


def _raise_open_file_limit() -> None:
    """Each socket is a file: raise the soft limit to the hard one (10,000
    sockets need more than the usual 1,024) and say what it is."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    print(f"chatapp serve: open-file limit {soft} (about that many sockets per worker)")


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(0)


if __name__ == "__main__":
    main()
