"""URLconfs with an ``/api/`` route the OpenAPI document cannot describe, for
tests/core/test_openapi.py: each must stop the build."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import include, path, re_path

from chatapp.core.api import api_view
from chatapp.core.apidoc import operation
from config.urls import urlpatterns as app_urlpatterns


@api_view("GET")
async def undescribed(request: HttpRequest) -> HttpResponse:
    return HttpResponse(status=204)


@operation("GET", "Only GET is described", answers={204: None})
@api_view("GET", "POST")
async def half_described(request: HttpRequest) -> HttpResponse:
    return HttpResponse(status=204)


async def plain(request: HttpRequest) -> HttpResponse:
    return HttpResponse(status=204)


class Undescribed:
    urlpatterns = [*app_urlpatterns, path("api/", include([path("new-thing", undescribed)]))]


class HalfDescribed:
    urlpatterns = [*app_urlpatterns, path("api/half", half_described)]


class NotAnApiView:
    urlpatterns = [*app_urlpatterns, path("api/plain", plain)]


class RegexRoute:
    urlpatterns = [*app_urlpatterns, re_path(r"^api/regex/(?P<n>[0-9]+)$", undescribed)]
