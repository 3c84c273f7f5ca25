"""Every file that installs chatapp on a Debian host, rendered into a folder
before anything on the host changes (``chatapp deploy install --out DIR``;
``deploy/install.sh`` calls it and copies the result into place).

The values come from ``CHATAPP_*`` variables (and ``DATABASE_URL``,
``REDIS_URL``), else from the previous install's ``install.conf``, else from
defaults; a value that can not be used stops the rendering with a message
naming its variable, and nothing is written. Secrets (``SECRET_KEY``, the
local database password) and a self-signed certificate are made once and kept
by every later run.

The folder holds ``files/`` (the tree to install, by absolute path),
``manifest`` (one line per folder and file: kind, mode, owner, group, path),
``postgres.sql`` (the local role and database, idempotent; empty for a
database of your own) and ``check/`` (a main nginx configuration around the
site, for a private ``nginx -t`` before the site goes live).
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from django.template import Context, Engine

from chatapp.deploy.host_values import (
    LOCAL_DB_HOST,
    OPENSSL,
    Host,
    env_line,
    parse_env,
    read_host,
    under,
)
from chatapp.deploy.nginx import TEMPLATES, DeployError, NginxSite, render_nginx

SYSTEMD_DIR = Path("/etc/systemd/system")
NGINX_SITE = Path("/etc/nginx/sites-available/chatapp.conf")
NGINX_GROUP = "www-data"  # Debian's nginx workers read static and media files as this group
GRACEFUL_TIMEOUT = 10  # the app's default (README, Configuration)


def local_database(host: Host) -> tuple[str, str] | None:
    """(role, password) when DATABASE_URL is the local database this install
    manages (its default shape), else None: a database of your own is yours."""
    parts = urlsplit(host.database_url)
    if (
        f"{parts.hostname}:{parts.port}" == LOCAL_DB_HOST
        and parts.username == host.user
        and parts.path == f"/{host.user}"
        and parts.password
    ):
        return host.user, parts.password
    return None


def postgres_sql(host: Host) -> str:
    local = local_database(host)
    if local is None:
        return ""
    role, password = local
    literal = "'" + password.replace("'", "''") + "'"
    return (
        "-- The local role and database of chatapp, made or brought up to date.\n"
        "\\set ON_ERROR_STOP on\n"
        f"SELECT 'CREATE ROLE \"{role}\" LOGIN' WHERE NOT EXISTS "
        f"(SELECT FROM pg_roles WHERE rolname = '{role}')\\gexec\n"
        f'ALTER ROLE "{role}" WITH LOGIN PASSWORD {literal};\n'
        f'SELECT \'CREATE DATABASE "{role}" OWNER "{role}"\' WHERE NOT EXISTS '
        f"(SELECT FROM pg_database WHERE datname = '{role}')\\gexec\n"
    )


MANAGED = (
    "SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "HTTPS",
    "FORWARDED_ALLOW_IPS",
    "CHATAPP_DATA_DIR",
    "STATIC_ROOT",
    "MEDIA_ROOT",
)


def env_file(host: Host, previous: Mapping[str, str]) -> str:
    values = {
        "SECRET_KEY": previous.get("SECRET_KEY") or secrets.token_urlsafe(50),
        "DATABASE_URL": host.database_url,
        "REDIS_URL": host.redis_url,
        "ALLOWED_HOSTS": ",".join(host.server_names),
        "CSRF_TRUSTED_ORIGINS": ",".join(host.origins),
        "HTTPS": "true",
        "FORWARDED_ALLOW_IPS": "127.0.0.1",  # nginx, on this host
        "CHATAPP_DATA_DIR": str(host.data_dir),
        "STATIC_ROOT": str(host.static_root),
        "MEDIA_ROOT": str(host.media_root),
    }
    lines = [
        "# chatapp's settings (README, Configuration), read by its systemd units.",
        "# Written by `deploy/install.sh`: the lines above the mark are rewritten on",
        "# every run (SECRET_KEY and DATABASE_URL are kept); add your own below it.",
    ]
    lines += [env_line(name, value) for name, value in values.items()]
    lines.append("# ---- your own settings (kept) ----")
    lines += [env_line(name, value) for name, value in previous.items() if name not in MANAGED]
    return "\n".join(lines) + "\n"


def install_conf(host: Host) -> str:
    values = {
        "CHATAPP_SERVER_NAME": ",".join(host.server_names),
        "CHATAPP_PORTS": ",".join(map(str, host.ports)),
        "CHATAPP_USER": host.user,
        "CHATAPP_VENV": str(host.venv),
        "CHATAPP_DATA_DIR": str(host.data_dir),
        "CHATAPP_TLS_CERT": str(host.tls_cert or ""),
        "CHATAPP_TLS_KEY": str(host.tls_key or ""),
        "CHATAPP_HTTP_PORT": str(host.http_port),
        "CHATAPP_HTTPS_PORT": str(host.https_port),
        "CHATAPP_LISTEN_ADDRESS": host.listen_address,
    }
    lines = ["# The choices of `deploy/install.sh`, reused by its next runs (no secrets)."]
    lines += [env_line(name, value) for name, value in values.items()]
    return "\n".join(lines) + "\n"


def graceful_timeout(env_text: str) -> int:
    value = parse_env(env_text, "chatapp.env").get("GRACEFUL_TIMEOUT", "")
    return int(value) if value.isdigit() else GRACEFUL_TIMEOUT


def units(host: Host, env_text: str) -> dict[str, str]:
    engine = Engine(dirs=[str(TEMPLATES)], autoescape=False)
    context = {
        "user": host.user,
        "group": host.user,
        "env_file": host.env_file,
        "data_dir": host.data_dir,
        "chatapp": host.venv / "bin" / "chatapp",
        "static_root": host.static_root,
        "media_root": host.media_root,
        "workers": [f"chatapp@{port}.service" for port in host.ports],
        # The drain and the graceful timeout come first, then systemd's SIGKILL.
        "stop_timeout": graceful_timeout(env_text) + 10,
    }
    return {
        name: engine.get_template(f"deploy/{name}").render(Context(context))
        for name in ("chatapp@.service", "chatapp-release.service", "chatapp.target")
    }


def nginx_site(host: Host, cert: Path, key: Path) -> str:
    return render_nginx(
        NginxSite(
            server_names=host.server_names,
            upstreams=[f"127.0.0.1:{port}" for port in host.ports],
            cert=cert,
            key=key,
            static_root=host.static_root,
            media_root=host.media_root,
            http_port=host.http_port,
            https_port=host.https_port,
            listen_address=host.listen_address,
            acme_root=host.acme_root,
        )
    )


CHECK_CONF = """\
# Only for `nginx -t -p {prefix} -c {prefix}/nginx.conf` before the site goes live.
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ }}
http {{
    include /etc/nginx/mime.types;
    access_log off;
    client_body_temp_path {prefix}/tmp;
    proxy_temp_path {prefix}/tmp;
    fastcgi_temp_path {prefix}/tmp;
    uwsgi_temp_path {prefix}/tmp;
    scgi_temp_path {prefix}/tmp;
    include {prefix}/site.conf;
}}
"""


def self_signed(cert: Path, key: Path, names: list[str]) -> None:
    alt = ",".join(f"DNS:{name}" for name in names)
    subprocess.run(  # noqa: S603 - openssl with our own arguments
        [
            OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "825",
            "-subj", f"/CN={names[0]}", "-addext", f"subjectAltName={alt}",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip


def render(environ: Mapping[str, str], out: Path, root: Path = Path("/")) -> Host:
    """Check every value, then write the folder ``out`` (which must not exist);
    on any error nothing is left there."""
    if out.exists():
        raise DeployError(f"--out: {out} exists; give a new folder")
    host, previous_env = read_host(environ, root)
    env_text = env_file(host, previous_env)
    unit_texts = units(host, env_text)

    try:
        out.mkdir(mode=0o700)
    except OSError as exc:
        raise DeployError(f"--out: can not make {out}: {exc.strerror}") from None
    try:
        write_tree(host, out, root, env_text, unit_texts)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    return host


def write_tree(
    host: Host, staging: Path, root: Path, env_text: str, unit_texts: dict[str, str]
) -> None:
    files = staging / "files"
    manifest: list[tuple[str, str, str, str, Path]] = []

    def put(path: Path, text: str, mode: str, owner: str = "root", group: str = "root") -> None:
        target = under(files, path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        target.chmod(int(mode, 8))
        manifest.append(("file", mode, owner, group, path))

    def folder(path: Path, mode: str, owner: str = "root", group: str = "root") -> None:
        manifest.append(("dir", mode, owner, group, path))

    folder(host.etc_dir, "0755")
    put(host.env_file, env_text, "0600")
    put(host.install_conf, install_conf(host), "0644")

    cert, key = host.cert, host.key
    check_cert, check_key = cert, key
    if host.tls_cert is None:
        folder(cert.parent, "0700")
        if not (under(root, cert).exists() and under(root, key).exists()):
            # Made once: later runs keep it (and a certificate put there by hand).
            check_cert, check_key = under(files, cert), under(files, key)
            check_cert.parent.mkdir(parents=True, exist_ok=True)
            self_signed(check_cert, check_key, host.server_names)
            check_key.chmod(0o600)
            check_cert.chmod(0o644)
            manifest.append(("file", "0644", "root", "root", cert))
            manifest.append(("file", "0600", "root", "root", key))
        else:
            check_cert, check_key = under(root, cert), under(root, key)

    # nginx's workers read static and media files through the group; the
    # setgid bit gives new folders and uploads that group too.
    folder(host.data_dir, "2750", host.user, NGINX_GROUP)
    folder(host.static_root, "2750", host.user, NGINX_GROUP)
    folder(host.media_root, "2750", host.user, NGINX_GROUP)
    folder(host.acme_root, "0755")  # certbot --webroot writes here as root

    for name, text in unit_texts.items():
        put(SYSTEMD_DIR / name, text, "0644")
    put(NGINX_SITE, nginx_site(host, cert, key), "0644")

    check = staging / "check"
    (check / "tmp").mkdir(parents=True)
    (check / "nginx.conf").write_text(CHECK_CONF.format(prefix=check))
    (check / "site.conf").write_text(nginx_site(host, check_cert, check_key))

    (staging / "postgres.sql").write_text(postgres_sql(host))
    (staging / "postgres.sql").chmod(0o600)
    (staging / "manifest").write_text("".join("\t".join(map(str, row)) + "\n" for row in manifest))
