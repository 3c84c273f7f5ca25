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
    nginx.add_argument(
        "--acme-root", type=Path, help="serve /.well-known/acme-challenge/ from here over HTTP"
    )
    nginx.add_argument("--out", type=Path, help="write here (default: standard output)")
    install = actions.add_parser(
        "install",
        help="every file of a Debian host install, into a new folder (deploy/install.sh)",
        description=host_doc(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    install.add_argument("--out", type=Path, required=True, help="a folder that does not exist")
    install.add_argument(
        "--root",
        type=Path,
        default=Path("/"),
        help="where the previous install's files are read from (default: /)",
    )
    return parser


def host_doc() -> str:
    from chatapp.deploy import host

    return host.__doc__ or ""


def main(argv: Sequence[str]) -> None:
    import django
    from django.conf import settings

    if not settings.configured:  # templates only: no database, no secret needed
        settings.configure()
        django.setup()
    from chatapp.deploy.nginx import DeployError, NginxSite, render_nginx

    args = parser().parse_args(list(argv))
    if args.action == "install":
        install(args.out, args.root)
        return
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


def install(out: Path, root: Path) -> None:
    import os

    from chatapp.deploy.host import render
    from chatapp.deploy.nginx import DeployError

    try:
        host = render(os.environ, out.absolute(), root)
    except DeployError as exc:
        sys.exit(f"chatapp deploy install: {exc}")
    print(
        f"chatapp deploy install: rendered {out} for {','.join(host.server_names)} "
        f"(workers on {','.join(map(str, host.ports))})",
        file=sys.stderr,
    )
