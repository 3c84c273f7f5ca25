"""`chatapp serve` as a real subprocess, used the way a browser would."""

from __future__ import annotations

import io
import re
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.e2e.server import CHATAPP, base_env, chatapp_server

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery staple"


def api_flow(base: str) -> None:
    """Register, log out, log in and fetch /api/me, with cookies and CSRF as a browser would."""
    with httpx.Client(base_url=base, timeout=10) as client:
        token = client.get("/api/csrf").json()["csrf_token"]
        headers = {"X-CSRFToken": token, "Origin": base}
        body = {"username": "Alice", "email": "alice@example.com", "password": PASSWORD}
        registered = client.post("/api/auth/register", json=body, headers=headers)
        assert registered.status_code == 201, registered.text
        user = registered.json()["user"]

        headers["X-CSRFToken"] = client.cookies["csrftoken"]  # rotated at login
        assert client.post("/api/auth/logout", headers=headers).status_code == 204
        assert client.get("/api/me").status_code == 401

        headers["X-CSRFToken"] = client.get("/api/csrf").json()["csrf_token"]
        login = client.post(
            "/api/auth/login",
            json={"login": "alice@EXAMPLE.com", "password": PASSWORD},
            headers=headers,
        )
        assert login.status_code == 200, login.text
        me = client.get("/api/me")
        assert me.status_code == 200
        # The User shape, and (version 2) the caller's own settings.
        assert me.json() == user | {"show_read_receipts": True, "language": "en"}


def csrf_field(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


def page_flow(base: str) -> None:
    """Register, view and edit the profile with an avatar, and log out, through the pages."""
    with httpx.Client(base_url=base, timeout=10, follow_redirects=True) as client:
        form = client.get("/accounts/register/")
        assert form.status_code == 200
        home = client.post(
            "/accounts/register/",
            data={
                "csrfmiddlewaretoken": csrf_field(form.text),
                "username": "bob",
                "email": "bob@example.com",
                "password": PASSWORD,
            },
        )
        assert home.status_code == 200
        assert "Lobby" in home.text
        css = re.search(r'href="(/static/chatapp/app[^"]*\.css)"', home.text)
        assert css and client.get(css.group(1)).status_code == 200

        edit = client.get("/accounts/profile/")
        picture = io.BytesIO()
        Image.new("RGB", (640, 480), "teal").save(picture, format="JPEG")
        saved = client.post(
            "/accounts/profile/",
            data={"csrfmiddlewaretoken": csrf_field(edit.text), "email": "bob@example.com"},
            files={"avatar": ("me.jpg", picture.getvalue(), "image/jpeg")},
        )
        assert saved.status_code == 200
        assert "Your profile was saved." in saved.text
        avatar = client.get("/api/me").json()["avatar"]
        assert avatar.startswith("/media/avatars/")
        assert avatar in saved.text
        served = client.get(avatar)
        assert served.status_code == 200
        assert Image.open(io.BytesIO(served.content)).size == (256, 256)

        out = client.post("/accounts/logout/", data={"csrfmiddlewaretoken": csrf_field(saved.text)})
        assert out.url.path == "/accounts/login/"
        assert client.get("/api/me").status_code == 401


def test_serve_with_embedded_postgres(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = base_env(CHATAPP_DATA_DIR=str(data_dir))
    with chatapp_server(env=env, log_path=tmp_path / "server.log") as base:
        health = httpx.get(f"{base}/healthz").json()
        assert health == {"status": "ok", "db": "ok", "layer": "ok"}
        api_flow(base)
        page_flow(base)
    # The embedded PostgreSQL stopped with the server that started it.
    assert not (data_dir / "pgdata" / "postmaster.pid").exists()


def test_serve_with_real_postgres(tmp_path: Path, e2e_database_url: str) -> None:
    env = base_env(
        DATABASE_URL=e2e_database_url,
        SECRET_KEY="e2e-" + uuid.uuid4().hex * 2,
        CHATAPP_DATA_DIR=str(tmp_path / "data"),
    )
    with chatapp_server(env=env, log_path=tmp_path / "server.log", args=("--migrate",)) as base:
        api_flow(base)


def test_serve_refuses_several_workers_without_redis() -> None:
    result = subprocess.run(
        [CHATAPP, "serve", "--workers", "2"],
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "more than one worker needs REDIS_URL" in result.stderr


def test_deployment_without_secret_key_refuses_to_start() -> None:
    env = base_env(DATABASE_URL="postgres://chat@127.0.0.1:1/chat")
    result = subprocess.run([CHATAPP, "check"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_check_deploy_is_clean_with_production_settings() -> None:
    env = base_env(
        DATABASE_URL="postgres://chat@127.0.0.1:1/chat",
        REDIS_URL="redis://127.0.0.1:6379/0",
        SECRET_KEY=uuid.uuid4().hex * 2,
        ALLOWED_HOSTS="chat.example.com",
        CSRF_TRUSTED_ORIGINS="https://chat.example.com",
        HTTPS="true",
    )
    result = subprocess.run(
        [CHATAPP, "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
