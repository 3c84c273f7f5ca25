"""``chatapp deploy nginx …``: render the nginx site to a file or stdout."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chatapp deploy", description=__doc__)
    actions = parser.add_subparsers(dest="action", required=True)
    nginx = actions.add_parser("nginx", help="the nginx site (TLS, static files, /ws/)")
    nginx.add_argument("--server-name", action="append", dest="server_names", required=True)
    nginx.add_argument(
        "--upstream",
        action="append",
        dest="upstreams",
        required=True,
        help="HOST:PORT of a `chatapp serve` (repeat for each)",
    )
    nginx.add_argument("--cert", type=Path, required=True, help="certificate chain (PEM)")
    nginx.add_argument("--key", type=Path, required=True, help="private key (PEM)")
    nginx.add_argument("--static-root", type=Path, required=True, help="STATIC_ROOT")
    nginx.add_argument(
        "--media-root",
        type=Path,
        help="MEDIA_ROOT, served by nginx from disk; leave out when MEDIA_STORAGE_URL names a "
        "shared bucket (the app then serves /media/ from it)",
    )
    nginx.add_argument("--http-port", type=int, default=80)
    nginx.add_argument("--https-port", type=int, default=443)
    nginx.add_argument(
        "--listen-address", default="", help="listen on this IPv4 address only (default: all)"
    )
    nginx.add_argument("--ws-read-timeout", default="60s")
    nginx.add_argument("--out", type=Path, help="write here (default: standard output)")
    return parser


def main(argv: Sequence[str]) -> None:
    import django
    from django.conf import settings

    if not settings.configured:  # templates only: no database, no secret needed
        settings.configure()
        django.setup()
    from chatapp.deploy.nginx import DeployError, NginxSite, render_nginx

    args = parser().parse_args(list(argv))
    options = {k: v for k, v in vars(args).items() if k not in {"action", "out"}}
    try:
        text = render_nginx(NginxSite(**options))
    except DeployError as exc:
        sys.exit(f"chatapp deploy nginx: {exc}")
    if args.out:
        args.out.write_text(text)
        print(f"chatapp deploy nginx: wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
