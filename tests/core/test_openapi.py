"""The OpenAPI document of the JSON API (issue 12, item 7): served as
docs/openapi.json holds it, describing every /api/ route of the URLconf with
every method its view allows, and built from the wire types. The running API
is fuzzed against it in tests/e2e/test_openapi_fuzz.py."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import msgspec
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import AsyncClient
from django.urls import URLPattern, URLResolver, get_resolver

from chatapp import wire
from chatapp.core import openapi
from chatapp.core.errors import STATUS_BY_CODE
from chatapp.friends.api import ACTIONS
from tests.core import openapi_urls

DOCS_FILE = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return json.loads(openapi.document_bytes())


def test_docs_file_is_the_document_the_code_builds() -> None:
    assert DOCS_FILE.read_text(encoding="utf-8") == openapi.render(openapi.build_document()), (
        "docs/openapi.json is out of date: run `make openapi`"
    )


async def test_served_document_is_the_docs_file(db: None) -> None:
    response = await AsyncClient().get("/api/openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.content == DOCS_FILE.read_bytes()
    assert json.loads(response.content)["openapi"] == "3.1.0"


def _api_routes_of_the_urlconf() -> set[tuple[str, Any]]:
    """Walked here on its own, so a route the document's walk misses still fails."""
    found = set()

    def walk(patterns: list[Any], prefix: str) -> None:
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, route)
            elif isinstance(entry, URLPattern) and route.startswith("api/"):
                found.add(("/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route), entry.callback))

    walk(get_resolver().url_patterns, "")
    return found


def test_every_api_route_is_described_with_every_method_it_allows(
    document: dict[str, Any],
) -> None:
    routes = _api_routes_of_the_urlconf()
    assert {"/api/auth/login", "/api/tokens/{token_id}", "/api/openapi.json"} <= {
        path for path, _ in routes
    }
    assert {path for path, _ in routes} == set(document["paths"])
    for path, view in routes:
        described = {method.upper() for method in document["paths"][path] if method in METHODS}
        assert described == set(view.api_methods), path


@pytest.mark.parametrize(
    ("urlconf", "problem"),
    [
        (openapi_urls.Undescribed, r"/api/new-thing: allows \['GET'\] but describes \[\]"),
        (
            openapi_urls.HalfDescribed,
            r"/api/half: allows \['GET', 'POST'\] but describes \['GET'\]",
        ),
        (openapi_urls.NotAnApiView, r"/api/plain: not an api_view"),
        (openapi_urls.RegexRoute, r"api/regex/.*use path\(\)"),
    ],
)
def test_an_undescribed_api_route_stops_the_build(urlconf: type, problem: str) -> None:
    with pytest.raises(openapi.UndescribedRoute, match=problem):
        openapi.build_document(urlconf)


def test_bodies_queries_and_answers_are_the_wire_types(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    login = document["paths"]["/api/auth/login"]["post"]
    body = login["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/LoginBody"}
    assert set(schemas["LoginBody"]["required"]) == {"login", "password"}
    assert schemas["LoginBody"]["properties"]["login"]["maxLength"] == 254
    ok = login["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/UserAnswer"}
    # Every field of a wire shape, required as msgspec writes it.
    wire_names = {info.encode_name for info in msgspec.structs.fields(wire.FriendRequest)}
    assert wire_names == {"id", "from", "to", "status"}
    assert set(schemas["FriendRequest"]["required"]) == wire_names
    assert set(schemas["Room"]["properties"]) == set(wire.Room.__struct_fields__)
    assert schemas["Room"]["properties"]["kind"] == {"enum": ["private", "public"]}


def test_query_parameters_are_the_query_struct_without_null(document: dict[str, Any]) -> None:
    operation = document["paths"]["/api/rooms/{room_id}/messages"]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert parameters["room_id"]["in"] == "path"
    assert parameters["room_id"]["schema"]["maximum"] == wire.INT64_MAX
    assert parameters["before_seq"] == {
        "name": "before_seq",
        "in": "query",
        "required": False,
        "allowEmptyValue": True,
        "schema": {"type": "integer", "minimum": 1, "maximum": wire.INT64_MAX},
    }
    users = document["paths"]["/api/users"]["get"]["parameters"]
    assert users == [
        {
            "name": "q",
            "in": "query",
            "required": False,
            "allowEmptyValue": True,
            "schema": {"type": "string", "pattern": r"^[^\x00]*$"},
        }
    ]
    action = document["paths"]["/api/friend-requests/{request_id}/{action}"]["post"]
    assert {
        "name": "action",
        "in": "path",
        "required": True,
        "schema": {"enum": list(ACTIONS)},
    } in (action["parameters"])


def test_edge_failures_are_listed_where_they_can_happen(document: dict[str, Any]) -> None:
    paths = document["paths"]
    me = paths["/api/me"]["get"]["responses"]
    assert set(me) == {"200", "401", "503"}  # no body, no query, no id: no 400, no CSRF 403
    tokens = paths["/api/tokens"]["post"]["responses"]
    assert {"201", "400", "401", "403", "409", "413", "415", "503"} == set(tokens)
    assert "429" not in tokens
    login = paths["/api/auth/login"]["post"]["responses"]
    assert login["429"]["headers"]["Retry-After"]["required"] is True
    assert "LOGIN_FAILURE_LIMIT" in login["429"]["description"]
    assert "429" in paths["/api/auth/register"]["post"]["responses"]
    revoke = paths["/api/tokens/{token_id}"]["delete"]["responses"]
    assert {"204", "400", "401", "403", "404", "503"} == set(revoke)
    assert "content" not in revoke["204"]
    assert not any("500" in op["responses"] for item in paths.values() for op in item.values())


def test_error_statuses_carry_their_codes(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for code, status in STATUS_BY_CODE.items():
        if status == 500:
            assert "Error500" not in schemas
            continue
        enum = schemas[f"Error{status}"]["allOf"][1]["properties"]["error"]["properties"]["code"]
        assert code in enum["enum"]
    assert schemas["Error403"]["allOf"][0] == {"$ref": "#/components/schemas/Error"}


def test_security_cookie_and_csrf_on_unsafe_methods_bearer_everywhere(
    document: dict[str, Any],
) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["session"] == {**schemes["session"], "in": "cookie"}
    assert schemes["session"]["name"] == settings.SESSION_COOKIE_NAME
    assert schemes["csrfCookie"]["name"] == settings.CSRF_COOKIE_NAME
    # The header Django reads (CSRF_HEADER_NAME is its WSGI spelling).
    header = schemes["csrfHeader"]["name"]
    assert "HTTP_" + header.upper().replace("-", "_") == settings.CSRF_HEADER_NAME
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    paths = document["paths"]
    assert paths["/api/me"]["get"]["security"] == [{"session": []}, {"bearer": []}]
    assert paths["/api/tokens"]["post"]["security"] == [
        {"session": [], "csrfCookie": [], "csrfHeader": []},
        {"bearer": []},
    ]
    assert {} in paths["/api/csrf"]["get"]["security"]  # no login needed


def test_command_writes_and_checks_the_file(tmp_path: Path) -> None:
    out = tmp_path / "openapi.json"
    call_command("openapi", "--out", str(out))
    assert out.read_text(encoding="utf-8") == DOCS_FILE.read_text(encoding="utf-8")
    call_command("openapi", "--check", str(out))
    out.write_text("{}\n", encoding="utf-8")
    with pytest.raises(CommandError, match="out of date"):
        call_command("openapi", "--check", str(out))
