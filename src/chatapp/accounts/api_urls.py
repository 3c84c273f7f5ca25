from django.urls import path

from chatapp.accounts import api

urlpatterns = [
    path("csrf", api.csrf, name="api-csrf"),
    path("auth/register", api.register, name="api-register"),
    path("auth/login", api.login, name="api-login"),
    path("auth/logout", api.logout, name="api-logout"),
    path("auth/logout-all", api.logout_all, name="api-logout-all"),
    path("me", api.me, name="api-me"),
]
