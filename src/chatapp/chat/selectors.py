from __future__ import annotations

from chatapp.chat.models import LOBBY_TITLE, Room


async def lobby() -> Room | None:
    return await Room.objects.filter(kind=Room.Kind.PUBLIC, title=LOBBY_TITLE).afirst()
