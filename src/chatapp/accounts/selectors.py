"""Reads of accounts, shaped for their callers."""

from __future__ import annotations

from django.db.models import Q

from chatapp.accounts.models import User

SEARCH_LIMIT = 20


def user_search(*, query: str, limit: int = SEARCH_LIMIT) -> list[User]:
    """Active users whose name (or, when shown, email) contains ``query``, by name.
    How each stands with the viewer is the friends app's business
    (``friends.selectors.people_search``)."""
    query = query.strip()
    if not query:
        return []
    return list(
        User.objects.filter(is_active=True)
        .filter(Q(username__icontains=query) | Q(email__iexact=query, hide_email=False))
        .order_by("username")[:limit]
    )


# The longest login an account can have: an e-mail address (usernames are shorter).
LOGIN_MAX_CHARS = 254


def user_for_login(login: str) -> User | None:
    """The account a typed login reaches: its e-mail address when it has an
    ``@``, else its username, in any case, as PostgreSQL's ``UPPER()`` folds
    them (so "alice" spelt with a dotless i reaches ``alice``). This is the one
    lookup of logins: the auth backend checks its password, the login lock
    counts its failures. A string no account can have is no account, not an error."""
    login = login.strip()
    if not login or len(login) > LOGIN_MAX_CHARS or not _storable(login):
        return None
    lookup = Q(email__iexact=login) if "@" in login else Q(username__iexact=login)
    return User.objects.filter(lookup).order_by("id").first()


def _storable(text: str) -> bool:
    """PostgreSQL text holds no NUL and only encodable characters (no lone surrogates)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def user_by_username(username: str) -> User | None:
    return User.objects.filter(username__iexact=username, is_active=True).first()
