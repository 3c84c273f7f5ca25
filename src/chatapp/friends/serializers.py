"""The friend request of the wire contract (``/api/friend-requests``)."""

from __future__ import annotations

from chatapp import wire
from chatapp.accounts.serializers import user_shape
from chatapp.friends.models import FriendRequest


def friend_request_shape(request: FriendRequest) -> wire.FriendRequest:
    return wire.FriendRequest(
        id=request.pk,
        from_user=user_shape(request.from_user),
        to_user=user_shape(request.to_user),
        status=request.status,
    )
