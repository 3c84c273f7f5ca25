"""``chatapp loadtest users N --out FILE.csv``: users with a token each, for
the load-test kit (loadtest/, docs/loadtest.md)."""

from __future__ import annotations

import argparse
import csv
import re
import secrets
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from chatapp.accounts.services import users_create_in_bulk
from chatapp.tokens.services import tokens_create_in_bulk

MAX_USERS = 100_000


class Command(BaseCommand):
    help = "Make users with one API token each, in bulk, for load tests."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        users = actions.add_parser("users", help="make N users and write their tokens to a CSV")
        users.add_argument("count", type=int, metavar="N")
        users.add_argument("--out", required=True, type=Path, help="CSV: username,user_id,token")
        users.add_argument("--prefix", default="", help="username prefix (default: lt_<random>_)")
        users.add_argument(
            "--force", action="store_true", help="allow it with DEBUG off (a staging server)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        count: int = options["count"]
        if not 1 <= count <= MAX_USERS:
            raise CommandError(f"N is from 1 to {MAX_USERS}.")
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "DEBUG is off: this looks like production. Load-test users on a staging "
                "server need --force."
            )
        prefix = options["prefix"] or f"lt_{secrets.token_hex(3)}_"
        if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,20}", prefix):
            raise CommandError("--prefix is 1 to 20 letters, digits, underscores, dots or hyphens.")
        started = time.monotonic()
        with transaction.atomic():
            users = users_create_in_bulk(prefix=prefix, count=count)
            tokens = tokens_create_in_bulk(users=users, name="load test")
        out: Path = options["out"]
        with out.open("w", newline="") as handle:
            out.chmod(0o600)  # tokens are credentials
            writer = csv.writer(handle)
            writer.writerow(["username", "user_id", "token"])
            for user, token in zip(users, tokens, strict=True):
                writer.writerow([user.username, user.pk, token])
        elapsed = time.monotonic() - started
        self.stderr.write(f"{count} users with a token each in {elapsed:.1f} s: {out}")
