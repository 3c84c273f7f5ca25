"""The User shape of the wire contract."""

from __future__ import annotations

from typing import Any

from django.templatetags.static import static

from chatapp.accounts.models import User

DEFAULT_AVATAR = "chatapp/avatar-default.svg"


def avatar_url(user: User) -> str:
    return user.avatar.url if user.avatar else static(DEFAULT_AVATAR)


def user_json(user: User) -> dict[str, Any]:
    return {"id": user.pk, "username": user.username, "avatar": avatar_url(user)}
