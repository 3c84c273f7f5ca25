"""``chatapp deploy …``: the files that put chatapp on a host, rendered from
the templates in ``templates/deploy/`` so one file serves production and the
tests that run it."""

from __future__ import annotations

from chatapp.deploy.cli import main

__all__ = ["main"]
