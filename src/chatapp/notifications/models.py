from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Notification(models.Model):
    class Kind(models.TextChoices):
        FRIEND_REQUEST = "friend_request", "friend request"
        FRIEND_ACCEPTED = "friend_accepted", "friend accepted"
        FRIEND_DECLINED = "friend_declined", "friend declined"
        FRIEND_CANCELLED = "friend_cancelled", "friend request cancelled"
        UNFRIENDED = "unfriended", "unfriended"
        PRIVATE_MESSAGE = "private_message", "private message"
        MENTION = "mention", "mention"
        REPLY = "reply", "reply"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, related_name="+"
    )
    text = models.CharField(max_length=300)
    url = models.CharField(max_length=200, blank=True)
    # For private_message: the room it is about (one unread notification per room).
    room = models.ForeignKey("chat.Room", on_delete=models.CASCADE, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    read = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["user", "-id"], name="notif_user_newest")]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "room"],
                condition=Q(kind="private_message", read=False),
                name="notif_one_unread_private_message_per_room",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user_id}"
