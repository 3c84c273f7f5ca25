from django.urls import path

from chatapp.chat import views

app_name = "chat"

urlpatterns = [
    path("", views.rooms, name="rooms"),
    path("<id:room_id>/", views.room, name="room"),
]
