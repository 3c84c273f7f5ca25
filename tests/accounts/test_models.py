from __future__ import annotations

import pytest
from django.contrib.auth.base_user import AbstractBaseUser

from chatapp.accounts.models import User

pytestmark = pytest.mark.django_db


def test_the_session_hash_follows_the_password_and_the_session_epoch(make_user) -> None:
    user: User = make_user("alice")
    # Epoch 0 is Django's own hash: sessions made before the epoch existed stay valid.
    assert user.get_session_auth_hash() == AbstractBaseUser.get_session_auth_hash(user)
    before = user.get_session_auth_hash()
    user.session_epoch += 1
    assert user.get_session_auth_hash() != before
    user.session_epoch -= 1
    user.set_password("another long passphrase")
    assert user.get_session_auth_hash() != before


def test_fallback_secrets_give_fallback_hashes(make_user, settings) -> None:
    settings.SECRET_KEY_FALLBACKS = ["an-old-secret-key-" + "x" * 40]
    user: User = make_user("alice", session_epoch=3)
    (fallback,) = user.get_session_auth_fallback_hash()
    assert fallback != user.get_session_auth_hash()
