"""Rooms, their messages and per-member read markers.

The hot path (send, history, resume, read) reads and writes these tables with
plain SQL through asyncpg (``chatapp.chat.sql``); the ORM models own the schema
and every other use.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

LOBBY_TITLE = "Lobby"


class Room(models.Model):
    class Kind(models.TextChoices):
        PUBLIC = "public", "public"
        PRIVATE = "private", "private"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    title = models.CharField(max_length=100)
    # The seq of the newest message; bumped with UPDATE … RETURNING in the
    # same transaction as the insert, so seqs have no gaps.
    last_seq = models.BigIntegerField(default=0)
    # The room's revision: bumped by one, in the same transaction, for every
    # change to one of its messages (a new one, an edit, a delete, a reaction,
    # a reply's excerpt cleared). Gap-free, as last_seq, which the sockets'
    # delivery order relies on; the contract only promises that it grows.
    last_rev = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    # A private room belongs to one pair of users (low id first). Unfriending
    # closes it (history kept, nothing readable or sendable); befriending again
    # reopens it.
    user_low = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    user_high = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    closed = models.BooleanField(default=False)

    class Meta:
        permissions = [("moderate_room", "Can delete any message of a public room")]
        constraints = [
            models.CheckConstraint(condition=Q(last_seq__gte=0), name="chat_room_last_seq_gte_0"),
            models.UniqueConstraint(
                fields=["user_low", "user_high"],
                condition=Q(kind="private"),
                name="chat_room_one_private_per_pair",
            ),
            models.CheckConstraint(
                condition=Q(kind="public", user_low__isnull=True, user_high__isnull=True)
                | Q(kind="private", user_low__lt=models.F("user_high")),
                name="chat_room_private_pair_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} room {self.title!r}"


class Message(models.Model):
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages")
    seq = models.BigIntegerField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="messages"
    )
    body = models.TextField()
    # Chosen by the client; the same one from the same author is the same message.
    # NULL (not "") means none, so the partial unique constraint skips it.
    client_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    created_at = models.DateTimeField(auto_now_add=True)
    # The room revision of the message's latest change, and of its creation.
    rev = models.BigIntegerField(default=0)
    created_rev = models.BigIntegerField(default=0)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted = models.BooleanField(default=False)
    # A reply quotes a message of the same room: its first characters when the
    # reply was sent (a snapshot), "" once the quoted message is deleted.
    reply_to = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="replies"
    )
    reply_excerpt = models.TextField(blank=True, default="")
    # Users named as @username who can read the room, following the body.
    mentions = ArrayField(models.BigIntegerField(), default=list, blank=True)

    class Meta:
        indexes = [models.Index(fields=["room", "rev"], name="chat_message_room_rev")]
        constraints = [
            models.UniqueConstraint(fields=["room", "seq"], name="chat_message_room_seq_unique"),
            models.UniqueConstraint(
                fields=["author", "client_id"],
                condition=Q(client_id__isnull=False),
                name="chat_message_author_client_id_unique",
            ),
            models.CheckConstraint(condition=Q(seq__gte=1), name="chat_message_seq_gte_1"),
        ]

    def __str__(self) -> str:
        return f"message {self.room_id}#{self.seq}"


class Reaction(models.Model):
    """One user's emoji on one message (each user once per emoji)."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reactions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    emoji = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["message", "emoji", "user"], name="chat_reaction_once_per_user"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.emoji} on {self.message_id} by {self.user_id}"


class Membership(models.Model):
    """A user's place in a room: for private rooms it grants access; in every
    room it holds the read marker that unread counts come from."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    last_read_seq = models.BigIntegerField(default=0)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["room", "user"], name="chat_membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.room_id}"
