"""A real nginx of the test's own: the site ``chatapp deploy nginx`` renders,
inside a main configuration that keeps everything (pid, logs, temp files) in
one folder, on free loopback ports; started in the foreground and stopped by
PID. No system configuration is read or touched."""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from chatapp.bench.procs import free_port, stop_process

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
CHATAPP = str(Path(sys.executable).with_name("chatapp"))

MAIN_CONF = """\
{user}
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections 4096; }}
http {{
    include {mime_types};
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    include {prefix}/site.conf;
}}
"""


def self_signed(folder: Path, host: str = "localhost") -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", f"/CN={host}", "-addext", f"subjectAltName=DNS:{host}",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@dataclass
class Nginx:
    prefix: Path
    http_port: int
    https_port: int
    cert: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"https://localhost:{self.https_port}"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))

    def client(self, **options: object) -> httpx.Client:
        return httpx.Client(base_url=self.base, verify=self.ssl_context(), timeout=10, **options)  # type: ignore[arg-type]

    def command(self, *extra: str) -> list[str]:
        return [NGINX, "-p", str(self.prefix), "-c", str(self.prefix / "nginx.conf"), *extra]

    def start(self) -> None:
        log = (self.prefix / "nginx.out").open("ab")
        self.process = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.log_tail()}")
            try:
                with self.client() as client:
                    client.get("/healthz")
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"nginx did not answer: {self.log_tail()}")

    def reload(self) -> None:
        subprocess.run(self.command("-s", "reload"), check=True, capture_output=True)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None

    def log_tail(self) -> str:
        parts = []
        for name in ("nginx.out", "error.log"):
            path = self.prefix / name
            if path.exists():
                parts.append(path.read_text()[-3000:])
        return "\n".join(parts)


def configure(
    prefix: Path,
    *,
    upstreams: list[str],
    static_root: Path,
    media_root: Path | None,
    **extra: str,
) -> Nginx:
    """Render the site with the project's command and wrap it in a main conf
    (without ``media_root``, the app serves /media/ from the shared bucket)."""
    (prefix / "tmp").mkdir(parents=True, exist_ok=True)
    cert, key = self_signed(prefix)
    nginx = Nginx(prefix, free_port(), free_port(), cert)
    command = [
        CHATAPP, "deploy", "nginx", "--server-name", "localhost",
        "--cert", str(cert), "--key", str(key),
        "--static-root", str(static_root),
        "--http-port", str(nginx.http_port), "--https-port", str(nginx.https_port),
        "--listen-address", "127.0.0.1", "--out", str(prefix / "site.conf"),
    ]  # fmt: skip
    if media_root is not None:
        command += ["--media-root", str(media_root)]
    for upstream in upstreams:
        command += ["--upstream", upstream]
    for flag, value in extra.items():
        command += [f"--{flag.replace('_', '-')}", value]
    subprocess.run(command, check=True, capture_output=True)
    (prefix / "nginx.conf").write_text(
        MAIN_CONF.format(
            # Workers read the test's files (0700 folders) as the same user.
            user="user root;" if os.geteuid() == 0 else "",
            prefix=prefix,
            mime_types="/etc/nginx/mime.types",
        )
    )
    test = subprocess.run(nginx.command("-t"), capture_output=True, text=True)
    if test.returncode != 0:
        raise RuntimeError(f"nginx -t failed:\n{test.stderr}")
    return nginx
