from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from axes.backends import AxesStandaloneBackend
from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from chatapp.accounts.models import User
from chatapp.accounts.selectors import user_for_login


class UsernameOrEmailBackend(ModelBackend):
    """Log in with a username or an email address, either in any case."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if not username or password is None:
            return None
        user = user_for_login(username)
        if user is None:
            # Spend the same time as a real check, so timing does not tell who exists.
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None

    async def aauthenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        # ModelBackend's own async path looks the name up case-sensitively.
        return await sync_to_async(self.authenticate)(request, username, password, **kwargs)


class AxesAsyncBackend(AxesStandaloneBackend):
    """django-axes' lockout check, reachable from ``aauthenticate``, which
    Django 5.2 calls on every backend."""

    async def aauthenticate(self, request: HttpRequest | None, **credentials: Any) -> None:
        await sync_to_async(self.authenticate)(request, **credentials)
