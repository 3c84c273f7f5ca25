from django.urls import path

from chatapp.chat import api

urlpatterns = [
    path("rooms", api.rooms, name="api-rooms"),
    path("rooms/<id:room_id>/messages", api.room_messages, name="api-room-messages"),
    path("rooms/<id:room_id>/changes", api.room_changes, name="api-room-changes"),
    path("messages/<id:message_id>", api.message, name="api-message"),
    path("search", api.search, name="api-search"),
    path(
        "messages/<id:message_id>/reactions/<name:emoji>",
        api.message_reaction,
        name="api-message-reaction",
    ),
]
