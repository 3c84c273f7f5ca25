"""The User shape of the wire contract."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.templatetags.static import static

from chatapp.accounts.models import User

DEFAULT_AVATAR = "chatapp/avatar-default.svg"


def avatar_from_name(name: str) -> str:
    """The avatar URL from the stored file name ("" for none)."""
    return f"{settings.MEDIA_URL}{name}" if name else static(DEFAULT_AVATAR)


def avatar_url(user: User) -> str:
    return avatar_from_name(user.avatar.name or "")


def user_json(user: User) -> dict[str, Any]:
    return {"id": user.pk, "username": user.username, "avatar": avatar_url(user)}
