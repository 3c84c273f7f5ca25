"""The one publish API. Services call these after their transaction has
committed (asyncpg writes return once committed; ORM writes call the ``_sync``
variants from ``transaction.on_commit``); nothing else publishes.

Room frames reach every socket subscribed to the room, on every worker,
encoded once; ``order`` places a change to a message in the room's chain of
revisions (``hub.Order``), which sockets deliver in order with no gap. User
frames reach every socket of one user; so does a session recheck, which closes
those of ended sessions.
"""

from __future__ import annotations

from asgiref.sync import async_to_sync

from chatapp import wire
from chatapp.realtime.hub import Order, hub


async def to_room(
    room_id: int, text: str, *, order: Order | None = None, skip_user: int | None = None
) -> None:
    await hub().publish_room(room_id, text, order=order, skip_user=skip_user)


async def to_user(user_id: int, frame: wire.ServerFrame) -> None:
    await hub().publish_user(user_id, wire.encode_text(frame))


def to_user_sync(user_id: int, frame: wire.ServerFrame) -> None:
    """``to_user`` for sync services, called from their on_commit hooks."""
    async_to_sync(to_user)(user_id, frame)


async def recheck_sessions(user_id: int) -> None:
    """The user's sessions may have ended (password, "log out everywhere",
    deactivated, logged out): each of their sockets, on every worker, checks
    its session now and closes with 4401 if it no longer holds."""
    await hub().publish_session_check(user_id)


def recheck_sessions_sync(user_id: int) -> None:
    """``recheck_sessions`` for sync code, called from on_commit hooks."""
    async_to_sync(recheck_sessions)(user_id)
