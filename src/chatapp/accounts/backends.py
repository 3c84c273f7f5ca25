from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.db.models import Q
from django.http import HttpRequest

from chatapp.accounts.models import User


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
        login = username.strip()
        lookup = Q(email__iexact=login) if "@" in login else Q(username__iexact=login)
        user = User.objects.filter(lookup).order_by("id").first()
        if user is None:
            # Spend the same time as a real check, so timing does not tell who exists.
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
