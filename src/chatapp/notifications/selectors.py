from __future__ import annotations

from chatapp.accounts.models import User
from chatapp.notifications.models import Notification

PAGE_SIZE = 20


def unread_count(*, user_id: int) -> int:
    return Notification.objects.filter(user_id=user_id, read=False).count()


def notifications_page(
    *, user: User, before: int | None, limit: int = PAGE_SIZE
) -> tuple[list[Notification], bool]:
    """Newest first by id, keyset-paged: ``before`` is the smallest id already shown."""
    query = Notification.objects.filter(user=user).select_related("actor").order_by("-id")
    if before is not None:
        query = query.filter(id__lt=before)
    rows = list(query[: limit + 1])
    return rows[:limit], len(rows) > limit
