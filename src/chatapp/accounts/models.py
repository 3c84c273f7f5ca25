from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils.crypto import salted_hmac

username_validator = RegexValidator(
    regex=r"^[A-Za-z0-9_.\-]{3,30}\Z",
    message="Use 3 to 30 letters, digits, underscores, dots or hyphens.",
    code="invalid_username",
)


_SESSION_HASH_SALT = "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash"


def session_auth_hash(
    password: str, session_epoch: int, *, secret: str | bytes | None = None
) -> str:
    """What a session keeps to show it was made with the user's current password
    and since their last "log out everywhere" (``session_epoch``). At epoch 0 it
    is Django's own hash, so sessions made before the epoch existed stay valid.
    The socket handshake checks sessions with this too (``chat.socket``)."""
    value = password if session_epoch == 0 else f"{password}\n{session_epoch}"
    return salted_hmac(_SESSION_HASH_SALT, value, secret=secret, algorithm="sha256").hexdigest()


class ChatUserManager(UserManager["User"]):
    def get_by_natural_key(self, username: str | None) -> User:
        # Logins and lookups ignore case, as the unique constraint does.
        return self.get(username__iexact=username)


class User(AbstractUser):
    """A chat user. Username and email are unique regardless of case."""

    username = models.CharField(
        "username",
        max_length=30,
        unique=True,
        validators=[username_validator],
        help_text="3 to 30 letters, digits, underscores, dots or hyphens.",
        error_messages={"unique": "That username is taken."},
    )
    email = models.EmailField("email address", max_length=254)
    avatar = models.ImageField(upload_to="avatars/", blank=True)
    hide_email = models.BooleanField(
        default=False, help_text="Hide my email address from other users."
    )
    # An address the user asked to change to: it replaces ``email`` once the
    # link mailed to it is followed (services.user_email_confirm).
    pending_email = models.EmailField("new email address, not yet confirmed", blank=True)
    # Read receipts in private chats: off hides one's own and the peer's (as in Signal).
    show_read_receipts = models.BooleanField(
        default=True, help_text="Show read receipts in private chats (mine and theirs)."
    )
    language = models.CharField(
        max_length=5, choices=[("en", "English"), ("fr", "Français")], default="en"
    )
    session_epoch = models.PositiveIntegerField(
        default=0,
        editable=False,
        help_text='Raised by "log out everywhere": sessions made before no longer count.',
    )

    objects: ClassVar[ChatUserManager] = ChatUserManager()

    REQUIRED_FIELDS = ["email"]

    class Meta:
        constraints = [
            models.UniqueConstraint(
                Lower("username"),
                name="accounts_user_username_ci_unique",
                violation_error_message="That username is taken.",
            ),
            models.UniqueConstraint(
                Lower("email"),
                name="accounts_user_email_ci_unique",
                violation_error_message="That email address is already registered.",
            ),
        ]

    def __str__(self) -> str:
        return self.username

    def get_session_auth_hash(self) -> str:
        return session_auth_hash(self.password, self.session_epoch)

    def get_session_auth_fallback_hash(self) -> Iterator[str]:
        for secret in settings.SECRET_KEY_FALLBACKS:
            yield session_auth_hash(self.password, self.session_epoch, secret=secret)
