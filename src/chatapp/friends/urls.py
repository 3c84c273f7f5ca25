from django.urls import path

from chatapp.friends import views

app_name = "friends"

urlpatterns = [
    path("", views.friends, name="friends"),
    path("search/", views.search, name="search"),
    path("requests/", views.requests, name="requests"),
    path("requests/send/", views.send, name="send"),
    path("requests/<id:request_id>/<name:action>/", views.request_action, name="request_action"),
    path("<id:user_id>/remove/", views.unfriend, name="unfriend"),
]
