from django.urls import path

from chatapp.tokens import api

urlpatterns = [
    path("tokens", api.tokens, name="api-tokens"),
    path("tokens/<id:token_id>", api.token, name="api-token"),
]
