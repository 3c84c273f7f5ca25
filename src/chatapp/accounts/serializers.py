"""The User shape of the wire contract, from a user."""

from __future__ import annotations

from django.conf import settings
from django.templatetags.static import static

from chatapp import wire
from chatapp.accounts.models import User

DEFAULT_AVATAR = "chatapp/avatar-default.svg"


def avatar_from_name(name: str) -> str:
    """The avatar URL from the stored file name ("" for none)."""
    return f"{settings.MEDIA_URL}{name}" if name else static(DEFAULT_AVATAR)


def avatar_url(user: User) -> str:
    return avatar_from_name(user.avatar.name or "")


def user_shape(user: User) -> wire.User:
    return wire.User(id=user.pk, username=user.username, avatar=avatar_url(user))


def me_shape(user: User) -> wire.Me:
    """The caller as ``/api/me`` shows them: the User shape and their settings."""
    return wire.Me(
        id=user.pk,
        username=user.username,
        avatar=avatar_url(user),
        show_read_receipts=user.show_read_receipts,
        language=user.language,
    )


def user_shape_of(user_id: int, username: str, avatar_name: str) -> wire.User:
    """The User shape from the columns of a raw query (``avatar_name`` as stored)."""
    return wire.User(id=user_id, username=username, avatar=avatar_from_name(avatar_name))
