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
    found = list(users)
    from chatapp.friends.selectors import relations

    relation_of = relations(viewer_id=viewer.pk, user_ids=[user.pk for user in found])
    return [(user, relation_of[user.pk]) for user in found]


def user_by_username(username: str) -> User | None:
    return User.objects.filter(username__iexact=username, is_active=True).first()
