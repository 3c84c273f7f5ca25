"""``chatapp deploy install`` and ``deploy/install.sh render``: every file an
install writes, its mode and owner, re-runs, bad values, ``nginx -t`` and
``systemd-analyze verify`` on what is rendered, and the local database's SQL
run against the real PostgreSQL."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg
import pytest

from tests.deploy.host import (
    INSTALL_SH,
    NGINX_SITE,
    SYSTEMD_DIR,
    Row,
    apply,
    install_env,
    manifest,
    parse_env_file,
    render,
    rendered,
    tree_file,
    unit,
    unit_values,
)
from tests.proxy.nginx import MAIN_CONF, NGINX, self_signed

SYSTEMD_ANALYZE = "/usr/bin/systemd-analyze"
UNITS = ("chatapp@.service", "chatapp-release.service", "chatapp.target")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return install_env(tmp_path / "host", CHATAPP_SERVER_NAME="chat.example.com")


def test_every_file_with_its_mode_and_owner(env: dict[str, str], tmp_path: Path) -> None:
    out = rendered(env, tmp_path / "out")
    etc, data = tmp_path / "host" / "etc", tmp_path / "host" / "data"
    assert manifest(out) == [
        Row("dir", "0755", "root", "root", etc),
        Row("file", "0600", "root", "root", etc / "chatapp.env"),
        Row("file", "0644", "root", "root", etc / "install.conf"),
        Row("dir", "0700", "root", "root", etc / "tls"),
        Row("file", "0644", "root", "root", etc / "tls" / "cert.pem"),
        Row("file", "0600", "root", "root", etc / "tls" / "key.pem"),
        Row("dir", "2750", "chatapp", "www-data", data),
        Row("dir", "2750", "chatapp", "www-data", data / "static"),
        Row("dir", "2750", "chatapp", "www-data", data / "media"),
        Row("dir", "0755", "root", "root", data / "acme"),
        *(Row("file", "0644", "root", "root", SYSTEMD_DIR / name) for name in UNITS),
        Row("file", "0644", "root", "root", NGINX_SITE),
    ]
    for row in manifest(out):
        if row.kind == "file":  # the tree already has the modes install.sh gives
            assert oct(tree_file(out, row.path).stat().st_mode & 0o7777) == oct(int(row.mode, 8))

    values = parse_env_file(tree_file(out, etc / "chatapp.env"))
    assert len(values["SECRET_KEY"]) >= 50
    database = urlparse(values["DATABASE_URL"])
    assert (database.hostname, database.port, database.username, database.path) == (
        "127.0.0.1", 5432, "chatapp", "/chatapp",
    )  # fmt: skip
    assert len(database.password or "") >= 24
    assert values["REDIS_URL"] == "redis://127.0.0.1:6379/0"
    assert values["ALLOWED_HOSTS"] == "chat.example.com"
    assert values["CSRF_TRUSTED_ORIGINS"] == "https://chat.example.com"
    assert values["HTTPS"] == "true"
    assert values["FORWARDED_ALLOW_IPS"] == "127.0.0.1"
    assert values["STATIC_ROOT"] == str(data / "static")
    assert values["MEDIA_ROOT"] == str(data / "media")

    sql = (out / "postgres.sql").read_text()
    assert oct((out / "postgres.sql").stat().st_mode & 0o777) == oct(0o600)
    assert f"PASSWORD '{database.password}'" in sql


def test_the_units(env: dict[str, str], tmp_path: Path) -> None:
    out = rendered(env | {"CHATAPP_PORTS": "8101 8102,8103"}, tmp_path / "out")
    chatapp = f"{sys.prefix}/bin/chatapp"
    env_file = str(tmp_path / "host" / "etc" / "chatapp.env")
    media = str(tmp_path / "host" / "data" / "media")
    static = str(tmp_path / "host" / "data" / "static")

    worker = unit(out, "chatapp@.service")
    assert unit_values(worker, "ExecStart") == [
        f"{chatapp} serve --host 127.0.0.1 --port %i --workers 1 --no-migrate --no-collectstatic"
    ]
    assert unit_values(worker, "Restart") == ["on-failure"]
    assert unit_values(worker, "EnvironmentFile") == [env_file]
    assert unit_values(worker, "ReadWritePaths") == [media]
    # Wants=, not Requires=: restarting the release unit must not restart every worker.
    assert "chatapp-release.service" in unit_values(worker, "Wants")[0]
    assert unit_values(worker, "Requires") == []
    assert "chatapp-release.service" in unit_values(worker, "After")[0]
    assert unit_values(worker, "TimeoutStopSec") == ["20s"]  # GRACEFUL_TIMEOUT 10 + 10

    release = unit(out, "chatapp-release.service")
    assert unit_values(release, "Type") == ["oneshot"]
    assert unit_values(release, "RemainAfterExit") == ["yes"]
    assert unit_values(release, "ExecStart") == [
        f"{chatapp} migrate --noinput",
        f"{chatapp} collectstatic --noinput --verbosity 0",
    ]
    assert unit_values(release, "ReadWritePaths") == [f"{static} {media}"]

    for text in (worker, release):
        assert unit_values(text, "User") == ["chatapp"]
        for hardening in (
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "ProtectHome=yes",
            "PrivateTmp=yes",
            "PrivateDevices=yes",
            "CapabilityBoundingSet=",
        ):
            assert hardening in text.splitlines()

    target = unit(out, "chatapp.target")
    assert unit_values(target, "Wants") == [
        "chatapp@8101.service chatapp@8102.service chatapp@8103.service"
    ]
    assert unit_values(target, "WantedBy") == ["multi-user.target"]

    site = tree_file(out, NGINX_SITE).read_text()
    for port in (8101, 8102, 8103):
        assert f"server 127.0.0.1:{port} " in site
    assert f"ssl_certificate     {tmp_path}/host/etc/tls/cert.pem;" in site
    assert f"alias {static}/;" in site and f"alias {media}/;" in site
    assert f"root {tmp_path}/host/data/acme;" in site


def test_a_rerun_keeps_secrets_certificate_values_and_your_settings(
    env: dict[str, str], tmp_path: Path
) -> None:
    root = tmp_path / "root"
    first = rendered(env | {"CHATAPP_PORTS": "8201,8202"}, tmp_path / "first")
    apply(first, root)
    installed_env = root / (tmp_path / "host" / "etc" / "chatapp.env").relative_to("/")
    with installed_env.open("a") as handle:
        handle.write("EMAIL_URL=smtp+tls://mailer:pw@smtp.example.com:587\n")

    # Asking nothing: the server name and the ports come from install.conf.
    again = {k: v for k, v in env.items() if k != "CHATAPP_SERVER_NAME"}
    second = rendered(again, tmp_path / "second", root)
    etc = tmp_path / "host" / "etc"
    before = parse_env_file(tree_file(first, etc / "chatapp.env"))
    after = parse_env_file(tree_file(second, etc / "chatapp.env"))
    assert after["SECRET_KEY"] == before["SECRET_KEY"]
    assert after["DATABASE_URL"] == before["DATABASE_URL"]
    assert after["EMAIL_URL"] == "smtp+tls://mailer:pw@smtp.example.com:587"
    assert after["ALLOWED_HOSTS"] == "chat.example.com"
    assert "chatapp@8201.service chatapp@8202.service" in unit(second, "chatapp.target")
    paths = [row.path for row in manifest(second)]
    assert etc / "tls" / "cert.pem" not in paths  # the first run's certificate stays
    assert etc / "tls" / "cert.pem" in [row.path for row in manifest(first)]
    assert (tree_file(second, NGINX_SITE).read_text()).count(str(etc / "tls" / "cert.pem")) == 1

    # A value given again wins over the saved one.
    third = rendered(again | {"CHATAPP_PORTS": "8301"}, tmp_path / "third", root)
    assert unit_values(unit(third, "chatapp.target"), "Wants") == ["chatapp@8301.service"]


def bad_key(tmp_path: Path) -> dict[str, str]:
    cert, _ = self_signed(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    _, key = self_signed(other)
    return {"CHATAPP_TLS_CERT": str(cert), "CHATAPP_TLS_KEY": str(key)}


BAD_VALUES = [
    ("CHATAPP_SERVER_NAME", {"CHATAPP_SERVER_NAME": ""}),
    ("CHATAPP_SERVER_NAME", {"CHATAPP_SERVER_NAME": "chat.example.com;evil"}),
    ("CHATAPP_PORTS", {"CHATAPP_PORTS": "80"}),
    ("CHATAPP_PORTS", {"CHATAPP_PORTS": "8001,8001"}),
    ("CHATAPP_PORTS", {"CHATAPP_PORTS": "eight"}),
    ("CHATAPP_HTTPS_PORT", {"CHATAPP_HTTPS_PORT": "99999"}),
    ("CHATAPP_USER", {"CHATAPP_USER": "root"}),
    ("CHATAPP_VENV", {"CHATAPP_VENV": "relative/venv"}),
    ("CHATAPP_DATA_DIR", {"CHATAPP_DATA_DIR": "/var/lib/chat app"}),
    ("DATABASE_URL", {"DATABASE_URL": "mysql://u:p@db/chat"}),
    ("DATABASE_URL", {"DATABASE_URL": "postgres://u:it's@db/chat"}),
    ("REDIS_URL", {"REDIS_URL": "127.0.0.1:6379"}),
    ("CHATAPP_TLS_KEY", {"CHATAPP_TLS_CERT": "/etc/ssl/certs/ssl-cert-snakeoil.pem"}),
    ("CHATAPP_TLS_CERT", {"CHATAPP_TLS_CERT": "/nowhere/c.pem", "CHATAPP_TLS_KEY": "/k.pem"}),
    ("CHATAPP_TLS_KEY", "a key of another certificate"),
]


@pytest.mark.parametrize(("variable", "values"), BAD_VALUES)
def test_a_bad_or_missing_value_names_its_variable_and_writes_nothing(
    env: dict[str, str], tmp_path: Path, variable: str, values: dict[str, str] | str
) -> None:
    if isinstance(values, str):
        values = bad_key(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    result = render(env | values, tmp_path / "out")
    assert result.returncode != 0
    assert f"{variable}" in result.stderr, result.stderr
    assert result.stderr.startswith("chatapp deploy install: ")
    assert "Traceback" not in result.stderr
    assert sorted(tmp_path.rglob("*")) == before  # not even the output folder


def test_install_sh_render_without_a_terminal_names_the_missing_variable(
    env: dict[str, str], tmp_path: Path
) -> None:
    env = {k: v for k, v in env.items() if k != "CHATAPP_SERVER_NAME"}
    env["CHATAPP"] = str(Path(sys.executable).with_name("chatapp"))
    result = subprocess.run(
        [str(INSTALL_SH), "render", str(tmp_path / "out")],
        env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode != 0
    assert "CHATAPP_SERVER_NAME is not set" in result.stderr
    assert not (tmp_path / "out").exists()

    # A bad value goes through to the renderer's check, named the same way.
    bad = subprocess.run(
        [str(INSTALL_SH), "render", str(tmp_path / "out")],
        env=env | {"CHATAPP_SERVER_NAME": "chat.example.com", "CHATAPP_PORTS": "22"},
        capture_output=True, text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert bad.returncode != 0 and "CHATAPP_PORTS='22' is not accepted" in bad.stderr
    assert not (tmp_path / "out").exists()

    good = subprocess.run(
        [str(INSTALL_SH), "render", str(tmp_path / "out")],
        env=env | {"CHATAPP_SERVER_NAME": "chat.example.com"},
        capture_output=True, text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert good.returncode == 0, good.stderr
    assert [row.path.name for row in manifest(tmp_path / "out")][-1] == "chatapp.conf"


def nginx_t(prefix: Path, conf: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NGINX, "-t", "-p", str(prefix), "-c", str(conf)], capture_output=True, text=True
    )


def test_nginx_t_accepts_the_rendered_site(env: dict[str, str], tmp_path: Path) -> None:
    out = rendered(env, tmp_path / "out")
    # install.sh's own check, before the site goes live.
    check = nginx_t(out / "check", out / "check" / "nginx.conf")
    assert check.returncode == 0, check.stderr
    assert "test is successful" in check.stderr

    # The installed site (its certificate where the install puts it), inside a
    # main configuration like the proxy tests' own.
    etc = tmp_path / "host" / "etc"
    (etc / "tls").mkdir(parents=True)
    for name in ("cert.pem", "key.pem"):
        shutil.copyfile(tree_file(out, etc / "tls" / name), etc / "tls" / name)
    prefix = tmp_path / "nginx"
    (prefix / "tmp").mkdir(parents=True)
    shutil.copyfile(tree_file(out, NGINX_SITE), prefix / "site.conf")
    (prefix / "nginx.conf").write_text(
        MAIN_CONF.format(user="", prefix=prefix, mime_types="/etc/nginx/mime.types")
    )
    result = nginx_t(prefix, prefix / "nginx.conf")
    assert result.returncode == 0, result.stderr

    # And nginx -t does refuse a broken site (the check is not a formality).
    broken = tree_file(out, NGINX_SITE).read_text().replace("proxy_pass", "proxy_passes", 1)
    (prefix / "site.conf").write_text(broken)
    assert nginx_t(prefix, prefix / "nginx.conf").returncode != 0


def test_systemd_analyze_verify_accepts_the_units(env: dict[str, str], tmp_path: Path) -> None:
    assert Path(SYSTEMD_ANALYZE).exists(), "systemd-analyze is missing (Debian's systemd)"
    out = rendered(env | {"CHATAPP_PORTS": "8401,8402"}, tmp_path / "out")
    units = tmp_path / "units"
    shutil.copytree(out / "files" / SYSTEMD_DIR.relative_to("/"), units)
    for port in (8401, 8402):  # the instances the target wants, from the template
        shutil.copyfile(units / "chatapp@.service", units / f"chatapp@{port}.service")
    names = [*UNITS, "chatapp@8401.service", "chatapp@8402.service"]
    result = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", "--man=no", *(str(units / name) for name in names)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    # verify reports unknown keys and bad values on stderr and still exits 0.
    assert result.stderr == "", result.stderr


def test_the_local_database_sql_is_idempotent(tmp_path: Path) -> None:
    admin_url = os.environ.get("DATABASE_URL", "")
    if not admin_url:
        pytest.skip("DATABASE_URL is not set (CI always sets it)")
    admin = urlparse(admin_url)
    assert (admin.hostname, admin.port or 5432) == ("127.0.0.1", 5432), "the SQL is for :5432"
    role = f"chatapp_t{uuid.uuid4().hex[:10]}"
    env = install_env(tmp_path / "host", CHATAPP_SERVER_NAME="chat.example.com", CHATAPP_USER=role)
    out = rendered(env, tmp_path / "out")
    database_url = parse_env_file(tree_file(out, tmp_path / "host/etc/chatapp.env"))["DATABASE_URL"]
    psql = [
        "psql",
        "-X",
        "-q",
        "-h",
        "127.0.0.1",
        "-U",
        admin.username or "postgres",
        "-d",
        "postgres",
    ]
    try:
        for _ in range(2):  # install.sh runs it on every run
            result = subprocess.run(
                psql, stdin=(out / "postgres.sql").open(), capture_output=True, text=True
            )
            assert result.returncode == 0, result.stderr
            assert "ERROR" not in result.stderr
        with psycopg.connect(
            urlunparse(urlparse(database_url)._replace(scheme="postgresql"))
        ) as conn:
            owner = conn.execute(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
            ).fetchone()
            assert owner == (role,)
            assert conn.execute("SELECT current_user").fetchone() == (role,)
            conn.execute("CREATE TABLE made_by_the_owner (id int)")  # PG 15: public needs owning
    finally:
        with psycopg.connect(
            urlunparse(admin._replace(scheme="postgresql")), autocommit=True
        ) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{role}" WITH (FORCE)')
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')
