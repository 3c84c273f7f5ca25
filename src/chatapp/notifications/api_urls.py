from django.urls import path

from chatapp.notifications import api

urlpatterns = [
    path("notifications", api.notifications, name="api-notifications"),
    path("notifications/read", api.notifications_read, name="api-notifications-read"),
]
