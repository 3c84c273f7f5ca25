from django.urls import path

from chatapp.tokens import views

app_name = "tokens"

urlpatterns = [
    path("", views.tokens, name="tokens"),
    path("<id:token_id>/revoke/", views.revoke, name="revoke"),
]
