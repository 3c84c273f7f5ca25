"""Every write of notifications. A notification is written in the same
transaction as the action that causes it and pushed after commit."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.db import transaction

from chatapp import wire
from chatapp.accounts.models import User
from chatapp.notifications import selectors
from chatapp.notifications.models import Notification
from chatapp.notifications.serializers import notification_shape
from chatapp.realtime import events


def notification_create(
    *, user: User, kind: str, actor: User | None, text: str, url: str
) -> Notification:
    notification = Notification.objects.create(
        user=user, kind=kind, actor=actor, text=text[:300], url=url
    )
    transaction.on_commit(lambda: notification_push(notification=notification))
    return notification


async def notification_create_for(
    *, user_id: int, kind: str, actor_id: int | None, text: str, url: str
) -> None:
    """``notification_create`` by ids, for the async services of other apps."""

    def create() -> None:
        user = User.objects.filter(pk=user_id, is_active=True).first()
        if user is None:
            return
        actor = User.objects.filter(pk=actor_id).first() if actor_id is not None else None
        notification_create(user=user, kind=kind, actor=actor, text=text, url=url)

    await sync_to_async(create)()


def notification_push(*, notification: Notification) -> None:
    """Tell the user's sockets of a new or changed notification, with the unread count."""
    unread = selectors.unread_count(user_id=notification.user_id)
    events.to_user_sync(
        notification.user_id,
        wire.NotificationFrame(notification=notification_shape(notification), unread=unread),
    )


def notifications_mark_read(*, user: User, up_to: int) -> int:
    """Mark the user's notifications with id <= up_to read; returns the unread count."""
    Notification.objects.filter(user=user, id__lte=up_to, read=False).update(read=True)
    return selectors.unread_count(user_id=user.pk)
