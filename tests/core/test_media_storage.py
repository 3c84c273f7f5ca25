"""Uploads in a shared S3-compatible bucket (MEDIA_STORAGE_URL), against a real
S3 server of the test's own (moto_server): avatars are written there, served
from there at their /media/ URL, replaced there, and a bucket that is down is
a 503, not a 500."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from chatapp.bench.procs import free_port
from config.env import Env
from tests.s3server import CREDENTIALS, S3Server

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    server = S3Server(tmp_path_factory.mktemp("s3") / "moto.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def use_storage(settings, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """The settings as MEDIA_STORAGE_URL=url makes them."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    env = Env()
    env.ENVIRON = {"MEDIA_STORAGE_URL": url}
    options = env.media_storage("MEDIA_STORAGE_URL")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "chatapp.core.media.SharedMediaStorage", "OPTIONS": options},
    }


@pytest.fixture
def bucket(s3: S3Server, settings, monkeypatch: pytest.MonkeyPatch) -> str:
    name = f"media-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(name)
    use_storage(settings, monkeypatch, s3.storage_url(name, prefix="uploads"))
    return name


def png(size: tuple[int, int] = (120, 80)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color=(20, 120, 200)).save(out, format="PNG")
    return out.getvalue()


def edit_avatar(client: Client, email: str, data: bytes) -> int:
    upload = SimpleUploadedFile("me.png", data, content_type="image/png")
    answer = client.post("/accounts/profile/", {"email": email, "hide_email": "", "avatar": upload})
    return answer.status_code


def test_an_avatar_is_stored_in_the_bucket_and_served_at_its_media_url(
    s3: S3Server, bucket: str, settings, make_user, django_capture_on_commit_callbacks
) -> None:
    user = make_user("alice")
    client = Client()
    client.force_login(user)
    assert edit_avatar(client, user.email, png()) == 302
    user.refresh_from_db()
    [key] = s3.keys(bucket)
    assert key == f"uploads/{user.avatar.name}"
    assert not any(Path(settings.MEDIA_ROOT).rglob("*")), "nothing lands on the local disk"

    # The URL is this site's, not the bucket's: pages and frames never name it.
    url = client.get("/api/me").json()["avatar"]
    assert url == f"/media/{user.avatar.name}" == user.avatar.url
    served = client.get(url)
    assert served.status_code == 200
    assert served["Content-Type"] == "image/webp"
    assert "immutable" in served["Cache-Control"]
    assert "sandbox" in served["Content-Security-Policy"]
    assert served["Cross-Origin-Resource-Policy"] == "same-origin"
    assert served["X-Content-Type-Options"] == "nosniff"
    assert served.content == s3.read(bucket, key)

    # A new avatar replaces the object once the change is committed.
    with django_capture_on_commit_callbacks(execute=True):
        assert edit_avatar(client, user.email, png((40, 90))) == 302
    user.refresh_from_db()
    assert s3.keys(bucket) == [f"uploads/{user.avatar.name}"]
    assert client.get(url).status_code == 404
    assert client.get(user.avatar.url).status_code == 200


def test_names_outside_the_bucket_prefix_or_missing_are_404(s3: S3Server, bucket: str) -> None:
    s3.client().put_object(Bucket=bucket, Key="secret.txt", Body=b"not under the prefix")
    client = Client()
    assert client.get("/media/../secret.txt").status_code == 404
    assert client.get("/media/avatars/../../secret.txt").status_code == 404
    assert client.get("/media/avatars/missing.webp").status_code == 404
    assert client.get("/media/avatars/").status_code == 404


def test_a_bucket_that_does_not_answer_is_503_with_retry_after(
    settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    use_storage(settings, monkeypatch, f"s3://gone?endpoint_url={closed}&addressing_style=path")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    # The test client re-raises what the view raised; a browser gets the answer.
    answer = Client(raise_request_exception=False).get("/media/avatars/any.webp")
    assert answer.status_code == 503
    assert answer["Retry-After"]
