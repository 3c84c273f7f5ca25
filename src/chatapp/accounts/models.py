from __future__ import annotations

from typing import ClassVar

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower

username_validator = RegexValidator(
    regex=r"^[A-Za-z0-9_.\-]{3,30}\Z",
    message="Use 3 to 30 letters, digits, underscores, dots or hyphens.",
    code="invalid_username",
)


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
