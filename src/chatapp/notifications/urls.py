from django.urls import path

from chatapp.notifications import views

app_name = "notifications"

urlpatterns = [
    path("", views.notifications, name="list"),
    path("read/", views.mark_read, name="read"),
]
