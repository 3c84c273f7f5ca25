from __future__ import annotations

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from chatapp.accounts.avatars import avatar_from_upload
from chatapp.accounts.models import User

pytestmark = pytest.mark.django_db


def image_bytes(
    fmt: str = "PNG", size: tuple[int, int] = (300, 200), mode: str = "RGB", **save: object
) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, color=(200, 30, 30) if mode == "RGB" else 1).save(out, format=fmt, **save)
    return out.getvalue()


def upload(data: bytes, name: str = "a.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="image/png")


def test_avatar_is_cropped_square_resized_and_reencoded() -> None:
    result = avatar_from_upload(upload(image_bytes(size=(600, 300))))
    with Image.open(io.BytesIO(result.read())) as image:
        assert image.format == "WEBP"
        assert image.size == (256, 256)


def test_avatar_metadata_is_stripped() -> None:
    exif = Image.Exif()
    exif[0x010F] = "SecretCameraMaker"  # Make
    exif[0x010E] = "home address"  # ImageDescription
    jpeg = image_bytes("JPEG", exif=exif.tobytes())
    assert b"SecretCameraMaker" in jpeg
    result = avatar_from_upload(upload(jpeg, "a.jpg")).read()
    assert b"SecretCameraMaker" not in result
    with Image.open(io.BytesIO(result)) as image:
        assert not image.getexif()
        assert "exif" not in image.info


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"this is not an image at all", "not_an_image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "not_an_image"),
        (image_bytes("BMP"), "unsupported_format"),
        (image_bytes("PNG", size=(10_000, 10_000), mode="1"), "too_many_pixels"),
    ],
    ids=["text", "truncated-png", "bmp", "decompression-bomb"],
)
def test_avatar_refuses_what_is_not_a_safe_image(data: bytes, code: str) -> None:
    with pytest.raises(ValidationError) as caught:
        avatar_from_upload(upload(data))
    assert caught.value.code == code


def test_avatar_refuses_more_than_the_byte_limit(settings) -> None:
    settings.AVATAR_MAX_BYTES = 1000
    with pytest.raises(ValidationError) as caught:
        avatar_from_upload(upload(image_bytes(size=(400, 400), mode="RGB") + b"\0" * 1000))
    assert caught.value.code == "too_large"


def _edit(client: Client, user: User, data: bytes, name: str = "a.png"):
    return client.post(
        "/accounts/profile/",
        {"email": user.email, "hide_email": "", "avatar": upload(data, name)},
    )


def test_profile_edit_sets_avatar_and_replaces_the_old_file(
    make_user, django_capture_on_commit_callbacks
) -> None:
    user = make_user("alice")
    client = Client()
    client.force_login(user)
    assert _edit(client, user, image_bytes()).status_code == 302
    user.refresh_from_db()
    first = user.avatar.name
    assert first.startswith("avatars/") and user.avatar.storage.exists(first)

    with django_capture_on_commit_callbacks(execute=True):
        assert _edit(client, user, image_bytes(size=(50, 80))).status_code == 302
    user.refresh_from_db()
    assert user.avatar.name != first
    assert not user.avatar.storage.exists(first)
    # The avatar is served and the User shape points at it.
    assert client.get("/api/me").json()["avatar"] == user.avatar.url
    served = client.get(user.avatar.url)
    assert served.status_code == 200
    assert served["Content-Type"] == "image/webp"


@pytest.mark.parametrize(
    "bad",
    [b"GIF89a not really", image_bytes("PNG", size=(10_000, 10_000), mode="1")],
    ids=["not-an-image", "bomb"],
)
def test_bad_avatar_gets_clear_error_and_keeps_the_old_one(make_user, bad: bytes) -> None:
    user = make_user("alice")
    client = Client()
    client.force_login(user)
    _edit(client, user, image_bytes())
    user.refresh_from_db()
    kept = user.avatar.name

    response = _edit(client, user, bad, "evil.gif")
    assert response.status_code == 400
    assert b'role="alert"' in response.content
    user.refresh_from_db()
    assert user.avatar.name == kept
    assert user.avatar.storage.exists(kept)


def test_avatar_over_five_megabytes_is_refused_on_the_page(make_user) -> None:
    user = make_user("alice")
    client = Client()
    client.force_login(user)
    big = image_bytes() + b"\0" * (5 * 1024 * 1024)
    response = _edit(client, user, big)
    assert response.status_code == 400
    assert b"larger than 5 MB" in response.content
    user.refresh_from_db()
    assert not user.avatar


def test_media_path_traversal_is_refused(make_user) -> None:
    client = Client()
    assert client.get("/media/../../etc/passwd").status_code == 404
    assert client.get("/media/avatars/missing.webp").status_code == 404


def test_media_files_carry_the_file_policy(settings) -> None:
    (settings.MEDIA_ROOT / "avatars").mkdir(parents=True, exist_ok=True)
    (settings.MEDIA_ROOT / "avatars" / "a.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    )
    response = Client().get("/media/avatars/a.svg")
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "sandbox" in policy and "default-src 'none'" in policy
