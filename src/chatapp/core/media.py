"""Uploads in an S3-compatible bucket that every host shares (MEDIA_STORAGE_URL).

A file's URL stays ``MEDIA_URL`` + its name on this site, whatever stores it,
and the app serves it (``chatapp.core.views.media``): pages and the wire never
name the bucket, the pages' ``img-src 'self'`` holds, the bucket stays private
and needs no CORS, and a bucket that moves changes no stored URL. This module
is imported only when the setting names it, so boto3 is loaded only then.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

from django.conf import settings
from django.utils.encoding import filepath_to_uri
from storages.backends.s3 import S3Storage


class SharedMediaStorage(S3Storage):
    """django-storages' S3Storage with private objects and this site's URLs."""

    def get_default_settings(self) -> dict[str, Any]:
        defaults: dict[str, Any] = super().get_default_settings()
        # Objects are read through the app: no public ACL, no signed URLs.
        defaults.update(default_acl=None, querystring_auth=False)
        return defaults

    def url(
        self,
        name: str,
        parameters: Any = None,
        expire: Any = None,
        http_method: Any = None,
    ) -> str:
        return urljoin(str(settings.MEDIA_URL), filepath_to_uri(name))
