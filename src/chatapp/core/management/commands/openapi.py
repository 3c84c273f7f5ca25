"""``chatapp openapi [--out FILE] [--check FILE]``: the OpenAPI document of the
JSON API, as ``GET /api/openapi.json`` serves it (``chatapp.core.openapi``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from chatapp.core import openapi


class Command(BaseCommand):
    help = "Print the OpenAPI 3.1 document of the JSON API, write it, or check a copy of it."
    requires_system_checks: list[str] = []  # reads no database, only the code

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        where = parser.add_mutually_exclusive_group()
        where.add_argument("--out", type=Path, help="write it to this file (docs/openapi.json)")
        where.add_argument("--check", type=Path, help="fail unless this file holds it as it is")

    def handle(self, *args: Any, **options: Any) -> None:
        text = openapi.render(openapi.build_document())
        if options["check"] is not None:
            path: Path = options["check"]
            try:
                held = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise CommandError(f"{path}: {exc.strerror}") from exc
            if held != text:
                raise CommandError(f"{path} is out of date: run `chatapp openapi --out {path}`.")
            return
        if options["out"] is not None:
            options["out"].write_text(text, encoding="utf-8")
            return
        self.stdout.write(text, ending="")
