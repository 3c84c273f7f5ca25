"""Every write to accounts. Keyword-only, typed, committed before returning."""

from __future__ import annotations

import logging

from django.contrib.auth import alogout
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse

from chatapp.accounts.models import User
from chatapp.accounts.signals import user_registered
from chatapp.realtime import events

logger = logging.getLogger(__name__)

EMAIL_CONFIRM_SALT = "chatapp.accounts.email-confirm"
EMAIL_CONFIRM_MAX_AGE = 3 * 24 * 3600  # seconds a confirmation link works


class EmailConfirmFailed(Exception):
    """A confirmation link that is forged, expired, superseded, or whose address
    another account confirmed first."""


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
    *, user: User, hide_email: bool, avatar: ContentFile[bytes] | None = None
) -> User:
    """Change the profile; a new avatar replaces the old one, whose file is
    removed only once the change is committed. The e-mail address changes
    through ``user_email_change_request``."""
    old_avatar_name = user.avatar.name if avatar is not None and user.avatar else None
    with transaction.atomic():
        user.hide_email = hide_email
        if avatar is not None:
            user.avatar.save(avatar.name or "avatar.webp", avatar, save=False)
        user.save(update_fields=["hide_email", "avatar"])
        if old_avatar_name:
            storage = user.avatar.storage
            transaction.on_commit(lambda: storage.delete(old_avatar_name))
    return user


def user_settings_update(*, user: User, **changes: object) -> User:
    """Save the user's own settings (``show_read_receipts``, ``language``)."""
    allowed = {"show_read_receipts", "language"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"not settings: {sorted(unknown)}")
    for name, value in changes.items():
        setattr(user, name, value)
    user.clean_fields(exclude=[f.name for f in User._meta.fields if f.name not in changes])
    user.save(update_fields=list(changes))
    return user


def user_email_change_request(*, user: User, email: str, site_url: str) -> None:
    """Ask to change ``user``'s address to ``email``. Nothing changes until the
    link mailed to that address is followed. When the address is another
    account's, its owner is told instead (and gets no link); the asker sees
    the same either way, so a hidden address is not confirmed to them."""
    if email.lower() == user.email.lower():
        if user.pending_email:
            user.pending_email = ""
            user.save(update_fields=["pending_email"])
        return
    owner = User.objects.filter(email__iexact=email).exclude(pk=user.pk).first()
    user.pending_email = email
    user.save(update_fields=["pending_email"])
    if owner is not None:
        context = {"user": owner, "login_url": site_url + reverse("accounts:login")}
        context["reset_url"] = site_url + reverse("accounts:password_reset")
        mail = ("Someone tried to use your email address", "accounts/email_taken_email.txt")
    else:
        token = signing.dumps({"user": user.pk, "email": email}, salt=EMAIL_CONFIRM_SALT)
        link = site_url + reverse("accounts:email_confirm", kwargs={"token": token})
        context = {"user": user, "link": link, "days": EMAIL_CONFIRM_MAX_AGE // 86400}
        mail = ("Confirm your new email address", "accounts/email_confirm_email.txt")
    subject, template = mail
    body = render_to_string(template, context)
    transaction.on_commit(lambda: _send(subject, body, email))


def user_email_confirm(*, token: str) -> User:
    """Follow a confirmation link: the address it was sent to becomes the
    account's. Raises EmailConfirmFailed for a link that no longer applies."""
    try:
        data = signing.loads(token, salt=EMAIL_CONFIRM_SALT, max_age=EMAIL_CONFIRM_MAX_AGE)
        user_id, email = int(data["user"]), str(data["email"])
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise EmailConfirmFailed("This link is not valid, or it has expired.") from exc
    try:
        with transaction.atomic():
            user = User.objects.select_for_update().filter(pk=user_id).first()
            if user is None or user.pending_email.lower() != email.lower():
                raise EmailConfirmFailed("This link is for an address change that is over.")
            user.email, user.pending_email = user.pending_email, ""
            user.save(update_fields=["email", "pending_email"])
    except IntegrityError as exc:
        raise EmailConfirmFailed("Another account uses this address now.") from exc
    return user


def _send(subject: str, body: str, to: str) -> None:
    try:
        send_mail(subject, body, None, [to])
    except Exception:
        # As Django's password reset: a mail server that is down fails the mail, not the request.
        logger.exception("Could not send %r to an address", subject)


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


async def user_logout(*, request: HttpRequest) -> None:
    """End this request's session. Its sockets close at once, not at the next
    periodic check: the session is gone before they look."""
    user = await request.auser()
    await alogout(request)
    if user.is_authenticated:
        await events.recheck_sessions(user.pk)


def user_logout_everywhere(*, user: User) -> None:
    """End every session of the user, this one included: raising the session
    epoch changes the hash every session must match (``User.get_session_auth_hash``),
    and every socket of those sessions closes."""
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(session_epoch=F("session_epoch") + 1)
        user.refresh_from_db(fields=["session_epoch"])
        user_sessions_recheck(user_id=user.pk)


def user_sessions_recheck(*, user_id: int) -> None:
    """Once the transaction commits, have every socket of the user check that
    its session still holds; the one publisher of that event. Called by the
    services above and by the model hooks (``accounts.receivers``) when a
    password, the active flag or the session epoch changed, or a user was
    deleted, wherever it was written."""
    transaction.on_commit(lambda: events.recheck_sessions_sync(user_id))
