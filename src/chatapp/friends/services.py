"""Every write of the friend system. Each runs in one transaction holding a
lock on the pair of users, so two accepts at once, or two people requesting
each other at once, end in one friendship and one private room. Notifications
are written in the same transaction; live events go out after commit."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from django.db import connection, transaction

from chatapp import wire
from chatapp.accounts.models import User
from chatapp.chat import selectors as chat_selectors
from chatapp.chat.models import Membership, Room
from chatapp.friends.models import FriendRequest, Friendship
from chatapp.notifications.models import Notification
from chatapp.notifications.services import notification_create
from chatapp.realtime import events


class FriendError(Exception):
    """A refused friend action; ``code`` is an Error-shape code."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def ordered(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


def _lock_pair(a: int, b: int) -> None:
    low, high = ordered(a, b)
    with connection.cursor() as cursor:
        # Two int4 keys: ids beyond 2**31 only share a lock, never miss one.
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [low % 2**31, high % 2**31])


def _are_friends(a: int, b: int) -> bool:
    low, high = ordered(a, b)
    return Friendship.objects.filter(user_low_id=low, user_high_id=high).exists()


def friend_request_send(*, sender: User, receiver_id: int) -> FriendRequest:
    if receiver_id == sender.pk:
        raise FriendError("invalid", "You cannot send a friend request to yourself.")
    receiver = User.objects.filter(pk=receiver_id, is_active=True).first()
    if receiver is None:
        raise FriendError("not_found", "No such user.")
    with transaction.atomic():
        _lock_pair(sender.pk, receiver.pk)
        if _are_friends(sender.pk, receiver.pk):
            raise FriendError("conflict", "You are already friends.")
        low, high = ordered(sender.pk, receiver.pk)
        open_request = (
            FriendRequest.objects.select_for_update()
            .filter(status=FriendRequest.Status.PENDING)
            .filter(from_user_id__in=(low, high), to_user_id__in=(low, high))
            .first()
        )
        if open_request is not None:
            if open_request.from_user_id == sender.pk:
                raise FriendError("conflict", "You already sent this person a request.")
            # They asked first: asking back accepts.
            return _accept(open_request)
        request = FriendRequest.objects.create(from_user=sender, to_user=receiver)
        notification_create(
            user=receiver,
            kind=Notification.Kind.FRIEND_REQUEST,
            actor=sender,
            text=f"{sender.username} sent you a friend request.",
            url="/friends/requests/",
        )
    return request


def _request_for(*, user: User, request_id: int, role: str) -> FriendRequest:
    """The request, locked, if ``user`` is its ``role`` ("to" or "from") and it is open."""
    request = FriendRequest.objects.filter(pk=request_id).first()
    if request is None or user.pk not in (request.from_user_id, request.to_user_id):
        raise FriendError("not_found", "No such friend request.")
    if (request.to_user_id if role == "to" else request.from_user_id) != user.pk:
        who = "the person it was sent to" if role == "to" else "the person who sent it"
        raise FriendError("forbidden", f"Only {who} can do that.")
    _lock_pair(request.from_user_id, request.to_user_id)
    request = (
        FriendRequest.objects.select_for_update()
        .select_related("from_user", "to_user")
        .get(pk=request_id)
    )
    if request.status != FriendRequest.Status.PENDING:
        raise FriendError("conflict", f"This request was already {request.status}.")
    return request


def friend_request_accept(*, user: User, request_id: int) -> FriendRequest:
    with transaction.atomic():
        return _accept(_request_for(user=user, request_id=request_id, role="to"))


def _accept(request: FriendRequest) -> FriendRequest:
    sender, receiver = request.from_user, request.to_user
    request.status = FriendRequest.Status.ACCEPTED
    request.save(update_fields=["status", "updated_at"])
    low, high = ordered(sender.pk, receiver.pk)
    Friendship.objects.get_or_create(user_low_id=low, user_high_id=high)
    room, created = Room.objects.get_or_create(
        kind=Room.Kind.PRIVATE,
        user_low_id=low,
        user_high_id=high,
        defaults={"title": f"{sender.username} & {receiver.username}"},
    )
    if not created and room.closed:
        room.closed = False
        room.save(update_fields=["closed"])
    for member in (sender, receiver):
        Membership.objects.get_or_create(room=room, user=member)
    notification_create(
        user=sender,
        kind=Notification.Kind.FRIEND_ACCEPTED,
        actor=receiver,
        text=f"{receiver.username} accepted your friend request.",
        url=f"/chat/{room.pk}/",
    )
    transaction.on_commit(lambda: _push_rooms(room.pk, (sender.pk, receiver.pk)))
    return request


def friend_request_decline(*, user: User, request_id: int) -> FriendRequest:
    return _close(
        user=user,
        request_id=request_id,
        role="to",
        status=FriendRequest.Status.DECLINED,
        kind=Notification.Kind.FRIEND_DECLINED,
        text="{name} declined your friend request.",
        url="/friends/",
    )


def friend_request_cancel(*, user: User, request_id: int) -> FriendRequest:
    return _close(
        user=user,
        request_id=request_id,
        role="from",
        status=FriendRequest.Status.CANCELLED,
        kind=Notification.Kind.FRIEND_CANCELLED,
        text="{name} cancelled their friend request.",
        url="/friends/requests/",
    )


def _close(
    *, user: User, request_id: int, role: str, status: str, kind: str, text: str, url: str
) -> FriendRequest:
    """Decline or cancel: close the request and tell the other side."""
    with transaction.atomic():
        request = _request_for(user=user, request_id=request_id, role=role)
        request.status = status
        request.save(update_fields=["status", "updated_at"])
        other = request.from_user if role == "to" else request.to_user
        notification_create(
            user=other, kind=kind, actor=user, text=text.format(name=user.username), url=url
        )
    return request


def friend_remove(*, user: User, other_id: int) -> None:
    """Unfriend: the private room closes (history kept) and leaves both lists."""
    with transaction.atomic():
        _lock_pair(user.pk, other_id)
        low, high = ordered(user.pk, other_id)
        deleted, _ = Friendship.objects.filter(user_low_id=low, user_high_id=high).delete()
        if not deleted:
            raise FriendError("not_found", "You are not friends with that user.")
        other = User.objects.get(pk=other_id)
        room = Room.objects.filter(
            kind=Room.Kind.PRIVATE, user_low_id=low, user_high_id=high
        ).first()
        if room is not None:
            room.closed = True
            room.save(update_fields=["closed"])
        notification_create(
            user=other,
            kind=Notification.Kind.UNFRIENDED,
            actor=user,
            text=f"{user.username} removed you from their friends.",
            url="/friends/",
        )
        if room is not None:
            room_id = room.pk
            transaction.on_commit(lambda: _push_room_removed(room_id, (low, high)))


def _push_rooms(room_id: int, user_ids: tuple[int, int]) -> None:
    for user_id in user_ids:
        room = async_to_sync(chat_selectors.room_for_user)(user_id, room_id)
        if room is not None:
            events.to_user_sync(user_id, wire.RoomFrame(room=room))


def _push_room_removed(room_id: int, user_ids: tuple[int, int]) -> None:
    for user_id in user_ids:
        events.to_user_sync(user_id, wire.RoomRemovedFrame(room=room_id))
