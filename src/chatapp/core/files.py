"""Headers of static and uploaded files (settings import this: no Django here).

They are never pages: opened on their own (an SVG, say) they may run nothing
and load nothing. The scripts and styles that pages load are governed by the
page's policy, not by this one. No ``Access-Control-Allow-Origin``: no other
site needs to read these files (docs/security.md)."""

from __future__ import annotations

from collections.abc import MutableMapping

FILE_POLICY = "default-src 'none'; style-src 'self'; img-src 'self' data:; sandbox"


def static_file_headers(headers: MutableMapping[str, str], path: str, url: str) -> None:
    """ServeStatic's hook (SERVESTATIC_ADD_HEADERS_FUNCTION) for every static file."""
    headers["Content-Security-Policy"] = FILE_POLICY
    headers["Cross-Origin-Resource-Policy"] = "same-origin"
