"""What accounts tell the other apps, without importing them."""

from __future__ import annotations

from django.dispatch import Signal

# Sent inside the registration's transaction, with ``user``: an app that keeps
# per-user state (chat's read markers) sets it up in the same transaction.
user_registered = Signal()
