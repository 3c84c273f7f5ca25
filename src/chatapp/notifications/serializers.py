"""The Notification shape of the wire contract, from a notification."""

from __future__ import annotations

from chatapp import wire
from chatapp.accounts.serializers import user_shape
from chatapp.notifications.models import Notification


def notification_shape(notification: Notification) -> wire.Notification:
    return wire.Notification(
        id=notification.pk,
        kind=notification.kind,
        actor=user_shape(notification.actor) if notification.actor else None,
        text=notification.text,
        url=notification.url,
        created_at=wire.iso_utc(notification.created_at),
        read=notification.read,
    )
