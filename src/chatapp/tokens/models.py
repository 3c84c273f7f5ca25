"""API tokens: how a program (a bot, a load tester) authenticates as a user."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ApiToken(models.Model):
    """One token of a user. Only the SHA-256 of the token is kept: a token is
    32 random bytes, so a fast hash is as safe as a slow one and costs nothing
    on the connect path. Revoking deletes the row, so a revoked token and one
    never issued are the same to the server: not found."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "created_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.user_id})"
