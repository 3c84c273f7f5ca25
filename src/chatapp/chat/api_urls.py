from django.urls import path

from chatapp.chat import api

urlpatterns = [
    path("rooms", api.rooms, name="api-rooms"),
    path("rooms/<id:room_id>/messages", api.room_messages, name="api-room-messages"),
]
