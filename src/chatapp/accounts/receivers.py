"""Writes to users made anywhere (a page, the API, the admin, a shell) that can
end sessions: their sockets are told at once (``services.user_sessions_recheck``).

A bulk ``UPDATE`` sends no signal: the sockets' periodic session check
(``realtime.sessions``) still closes those within ``SESSION_CHECK_INTERVAL``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from chatapp.accounts import services
from chatapp.accounts.models import User

# What a session's validity depends on (``User.get_session_auth_hash``, is_active).
SESSION_FIELDS = frozenset({"password", "is_active", "session_epoch"})


@receiver(post_save, sender=User, dispatch_uid="accounts.user_saved")
def user_saved(
    sender: type[User],
    instance: User,
    created: bool,
    update_fields: Iterable[str] | None,
    **kwargs: Any,
) -> None:
    if created:
        return
    if update_fields is None or not SESSION_FIELDS.isdisjoint(update_fields):
        services.user_sessions_recheck(user_id=instance.pk)


@receiver(post_delete, sender=User, dispatch_uid="accounts.user_deleted")
def user_deleted(sender: type[User], instance: User, **kwargs: Any) -> None:
    services.user_sessions_recheck(user_id=instance.pk)
