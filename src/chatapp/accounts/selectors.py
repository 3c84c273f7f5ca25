"""Reads of accounts, shaped for their callers."""

from __future__ import annotations

from django.db.models import Q

from chatapp.accounts.models import User

SEARCH_LIMIT = 20


def user_search(*, viewer: User, query: str, limit: int = SEARCH_LIMIT) -> list[tuple[User, str]]:
    """Active users whose name (or, when shown, email) contains ``query``, each
    with its relation to the viewer."""
    query = query.strip()
    if not query:
        return []
    users = (
        User.objects.filter(is_active=True)
        .filter(Q(username__icontains=query) | Q(email__iexact=query, hide_email=False))
        .order_by("username")[:limit]
    )
    return [(user, relation_to(viewer=viewer, other=user)) for user in users]


def relation_to(*, viewer: User, other: User) -> str:
    return "self" if viewer.pk == other.pk else "none"


def user_by_username(username: str) -> User | None:
    return User.objects.filter(username__iexact=username, is_active=True).first()
