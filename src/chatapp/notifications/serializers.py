from __future__ import annotations

from datetime import UTC
from typing import Any

from chatapp.accounts.serializers import user_json
from chatapp.notifications.models import Notification


def notification_json(notification: Notification) -> dict[str, Any]:
    return {
        "id": notification.pk,
        "kind": notification.kind,
        "actor": user_json(notification.actor) if notification.actor else None,
        "text": notification.text,
        "url": notification.url,
        "created_at": notification.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "read": notification.read,
    }
