from __future__ import annotations

from typing import Any

from chatapp.accounts.serializers import user_json
from chatapp.chat.serializers import iso_utc
from chatapp.notifications.models import Notification


def notification_json(notification: Notification) -> dict[str, Any]:
    return {
        "id": notification.pk,
        "kind": notification.kind,
        "actor": user_json(notification.actor) if notification.actor else None,
        "text": notification.text,
        "url": notification.url,
        "created_at": iso_utc(notification.created_at),
        "read": notification.read,
    }
