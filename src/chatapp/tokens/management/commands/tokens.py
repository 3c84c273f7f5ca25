"""``chatapp tokens create USERNAME --name NAME``: a token, made by an operator."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from chatapp.accounts.models import User
from chatapp.tokens.services import TokenError, token_create


class Command(BaseCommand):
    help = "Make API tokens without the web (PROTOCOL.md, 'Bots and load testers')."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="print a new token of USERNAME")
        create.add_argument("username")
        create.add_argument("--name", required=True, help="what the token is for")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username__iexact=options["username"]).first()
        if user is None:
            raise CommandError(f"No user named {options['username']!r}.")
        try:
            new = token_create(user=user, name=options["name"])
        except TokenError as exc:
            raise CommandError(exc.detail) from exc
        self.stdout.write(new.secret)
