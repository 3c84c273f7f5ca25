from django.urls import path

from chatapp.friends import api

urlpatterns = [
    path("users", api.users, name="api-users"),
    path("friends", api.friends, name="api-friends"),
    path("friends/<id:user_id>", api.unfriend, name="api-unfriend"),
    path("friend-requests", api.friend_requests, name="api-friend-requests"),
    path(
        "friend-requests/<id:request_id>/<name:action>",
        api.friend_request_action,
        name="api-friend-request-action",
    ),
    path("rooms/private", api.private_room, name="api-private-room"),
]
