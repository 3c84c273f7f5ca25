"""chatapp tokens create, and chatapp loadtest users."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from chatapp.accounts.models import User
from chatapp.tokens.models import ApiToken

pytestmark = pytest.mark.django_db


def test_tokens_create_prints_a_working_token(make_user, capsys: Any) -> None:  # type: ignore[no-untyped-def]
    alice = make_user("alice")
    call_command("tokens", "create", "ALICE", "--name", "ops")
    token = capsys.readouterr().out.strip()
    response = Client().get("/api/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.json()["id"] == alice.pk
    assert ApiToken.objects.get(user=alice).name == "ops"


def test_tokens_create_for_nobody_is_a_clear_error(db: None) -> None:
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        call_command("tokens", "create", "ghost", "--name", "x")


def test_loadtest_users_writes_working_tokens(tmp_path: Path, settings: Any) -> None:
    settings.DEBUG = True
    out = tmp_path / "users.csv"
    call_command("loadtest", "users", "50", "--out", str(out))
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 50
    assert len({row["username"] for row in rows}) == 50
    assert out.stat().st_mode & 0o077 == 0  # credentials: the owner's only
    for row in (rows[0], rows[-1]):
        me = Client().get("/api/me", HTTP_AUTHORIZATION=f"Bearer {row['token']}").json()
        assert me == {**me, "id": int(row["user_id"]), "username": row["username"]}
    user = User.objects.get(pk=rows[0]["user_id"])
    assert not user.has_usable_password()


def test_loadtest_users_is_refused_with_debug_off_unless_forced(
    tmp_path: Path, settings: Any
) -> None:
    settings.DEBUG = False
    out = tmp_path / "users.csv"
    with pytest.raises(CommandError, match="--force"):
        call_command("loadtest", "users", "3", "--out", str(out))
    assert not User.objects.exists()
    call_command("loadtest", "users", "3", "--out", str(out), "--force")
    assert User.objects.count() == 3


@pytest.mark.parametrize("args", [["0"], ["100001"], ["3", "--prefix", "bad prefix"]])
def test_loadtest_users_bad_arguments(tmp_path: Path, settings: Any, args: list[str]) -> None:
    settings.DEBUG = True
    with pytest.raises(CommandError):
        call_command("loadtest", "users", *args, "--out", str(tmp_path / "u.csv"))
