"""Every write to accounts. Keyword-only, typed, committed before returning."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction

from chatapp.accounts.models import User
from chatapp.accounts.signals import user_registered


def user_register(*, username: str, email: str, password: str) -> User:
    """Create an account. Input is validated by RegisterForm; the database
    constraints still decide a race between two identical registrations."""
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, email=email, password=password)
            user_registered.send(sender=User, user=user)
            return user
    except IntegrityError as exc:
        field = "email" if "email" in str(exc) else "username"
        raise ValidationError({field: [f"That {field} is already registered."]}) from exc


def user_profile_update(
    *, user: User, email: str, hide_email: bool, avatar: ContentFile[bytes] | None = None
) -> User:
    """Change the profile; a new avatar replaces the old one, whose file is
    removed only once the change is committed."""
    old_avatar_name = user.avatar.name if avatar is not None and user.avatar else None
    with transaction.atomic():
        user.email = email
        user.hide_email = hide_email
        if avatar is not None:
            user.avatar.save(avatar.name or "avatar.webp", avatar, save=False)
        user.save(update_fields=["email", "hide_email", "avatar"])
        if old_avatar_name:
            storage = user.avatar.storage
            transaction.on_commit(lambda: storage.delete(old_avatar_name))
    return user


def users_create_in_bulk(*, prefix: str, count: int) -> list[User]:
    """``count`` users named ``{prefix}{i}``, for load tests and benchmarks:
    made in bulk (10,000 in seconds) with no usable password, so no password is
    hashed (about 0.4 s of CPU each). Their way in is a session or a token
    made for them; they have no read markers, as no registration ran."""
    from django.contrib.auth.hashers import make_password

    unusable = make_password(None)
    return User.objects.bulk_create(
        [
            User(username=f"{prefix}{i}", email=f"{prefix}{i}@example.com", password=unusable)
            for i in range(count)
        ],
        batch_size=1000,
    )
