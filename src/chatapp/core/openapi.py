"""The OpenAPI 3.1 document of the JSON API, built from the code itself: the
routes from the URLconf, each view's methods and login from ``api_view``, what
it does from its ``@operation`` (``chatapp.core.apidoc``), and every schema from
the wire types of ``chatapp.wire``. msgspec writes JSON Schema 2020-12, the
dialect OpenAPI 3.1 uses, so its schemas go in unchanged but for their ``$ref``
(``ref_template``) and the one pattern noted at ``DOCUMENTED_PATTERNS``.

Served at ``GET /api/openapi.json`` and kept in ``docs/openapi.json``:
``chatapp openapi --out docs/openapi.json`` (``make openapi``) writes it. A
route under ``/api/`` that is not described stops the build
(``UndescribedRoute``), so no route can be added without its description."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from http import HTTPStatus
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import msgspec
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern

from chatapp import wire
from chatapp.core.apidoc import Operation
from chatapp.core.converters import IdConverter, NameConverter
from chatapp.core.errors import STATUS_BY_CODE
from chatapp.wire.scalars import CLEAN_TEXT

API_ROUTE_PREFIX = "api/"
SCHEMA_REF = "#/components/schemas/{name}"
ERROR_REF = SCHEMA_REF.format(name="Error")
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
CSRF_HEADER = "X-CSRFToken"  # Django's CSRF_HEADER_NAME, HTTP_X_CSRFTOKEN, as sent

# Patterns whose regex OpenAPI tools cannot take, and what the document says
# instead. CLEAN_TEXT also refuses lone surrogates, which no JSON text a client
# sends can hold once decoded (msgspec refuses them first) and which ECMA-262
# engines (JSON Schema's regex dialect) do not accept in a character class.
DOCUMENTED_PATTERNS = {CLEAN_TEXT: r"^[^\x00]*$"}

PATH_SCHEMAS: dict[type, dict[str, Any]] = {
    # Beyond 64 bits is 400; a path that is not digits matches no route (404).
    IdConverter: {"type": "integer", "minimum": 0, "maximum": wire.INT64_MAX},
    NameConverter: {"type": "string", "pattern": r"^[^/\x00]+$"},
}

RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    }
}


class UndescribedRoute(Exception):
    """An ``/api/`` route the document cannot describe: no ``api_view``, a
    method without its ``@operation``, or a pattern it does not know."""


@dataclass(frozen=True)
class Route:
    path: str  # as OpenAPI writes it: /api/rooms/{room_id}/messages
    view: Any
    parameters: Mapping[str, type]  # each path parameter's converter class


_PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>\w+)>")


def api_routes(urlconf: object = None) -> list[Route]:
    """Every route of the URLconf (a module, its dotted name, or None for
    ROOT_URLCONF) under ``/api/``, in URLconf order."""
    return list(_walk(get_resolver(urlconf).url_patterns, "", {}))  # type: ignore[arg-type]


def _walk(patterns: list[Any], prefix: str, converters: dict[str, Any]) -> Iterator[Route]:
    for entry in patterns:
        route = _route_of(entry, prefix)
        if not route.startswith(API_ROUTE_PREFIX) and not API_ROUTE_PREFIX.startswith(route):
            continue
        found = {**converters, **getattr(entry.pattern, "converters", {})}
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, route, found)
        elif isinstance(entry, URLPattern) and route.startswith(API_ROUTE_PREFIX):
            path = "/" + _PARAMETER.sub(lambda m: "{" + m.group("name") + "}", route)
            names = [m.group("name") for m in _PARAMETER.finditer(route)]
            yield Route(path, entry.callback, {name: type(found[name]) for name in names})


def _route_of(entry: URLPattern | URLResolver, prefix: str) -> str:
    if isinstance(entry.pattern, RoutePattern):
        return prefix + str(entry.pattern)
    route = prefix + str(entry.pattern).lstrip("^")
    if route.startswith(API_ROUTE_PREFIX):
        raise UndescribedRoute(f"{route}: use path(), not re_path(), under /api/")
    return route  # a regex outside /api/: never walked into


def build_document(urlconf: object = None) -> dict[str, Any]:
    routes = api_routes(urlconf)
    types: list[Any] = [wire.Error]
    for route in routes:
        for described in _operations(route).values():
            types += [kind for kind in described.answers.values() if kind is not None]
            types += [described.body] if described.body is not None else []
    _, schemas = msgspec.json.schema_components(types, ref_template=SCHEMA_REF)
    paths: dict[str, Any] = {}
    for route in routes:
        item = paths.setdefault(route.path, {})
        for method, described in _operations(route).items():
            item[method.lower()] = _operation(route, method, described)
    document = {
        "openapi": "3.1.0",
        "info": {
            "title": "chatapp JSON API",
            "version": _version(),
            "description": INFO,
        },
        "paths": paths,
        "components": {
            "schemas": {**schemas, **_error_schemas()},
            "securitySchemes": _security_schemes(),
        },
    }
    return _documented_patterns(document)


INFO = (
    "The HTTP half of the chatapp wire contract (docs/protocol.md tells the whole of it, "
    "the WebSocket /ws/ included). Every failure is the Error shape "
    '`{"error": {"code", "detail", "fields"?}}`, `fields` naming each field at fault. '
    "A method a path does not list is 405 `method_not_allowed` with `Allow`; a path under "
    "/api/ that is not listed here is 404 `not_found`. Programs authenticate with "
    "`Authorization: Bearer <token>`; browsers with the session cookie, plus the X-CSRFToken "
    "header on unsafe methods."
)


def _version() -> str:
    try:
        return version("chatapp")
    except PackageNotFoundError:
        return "0"


def _operations(route: Route) -> dict[str, Operation]:
    methods = getattr(route.view, "api_methods", None)
    if methods is None:
        raise UndescribedRoute(f"{route.path}: not an api_view")
    described: dict[str, Operation] = getattr(route.view, "api_operations", {})
    if set(described) != set(methods):
        raise UndescribedRoute(
            f"{route.path}: allows {sorted(methods)} but describes {sorted(described)}"
        )
    return {method: described[method] for method in methods}


def _operation(route: Route, method: str, described: Operation) -> dict[str, Any]:
    login: bool = route.view.api_login
    result: dict[str, Any] = {
        "operationId": f"{method.lower()}{_camel(route.path)}",
        "summary": described.summary,
    }
    if described.description:
        result["description"] = described.description
    parameters = _path_parameters(route, described) + _query_parameters(described.query)
    if parameters:
        result["parameters"] = parameters
    if described.body is not None:
        result["requestBody"] = {
            # The server reads an empty body as {}: it is only missing when a
            # field of it is required.
            "required": any(field.required for field in msgspec.structs.fields(described.body)),
            "content": {"application/json": {"schema": _schema_of(described.body)}},
        }
    result["responses"] = _responses(route, method, described, login=login)
    result["security"] = _security(method, login=login)
    return result


def _camel(path: str) -> str:
    words = re.split(r"[^A-Za-z0-9]+", path.removeprefix("/api/"))
    return "".join(word[:1].upper() + word[1:] for word in words if word)


def _path_parameters(route: Route, described: Operation) -> list[dict[str, Any]]:
    parameters = []
    for name, converter in route.parameters.items():
        schema = described.path.get(name) or PATH_SCHEMAS.get(converter)
        if schema is None:
            raise UndescribedRoute(
                f"{route.path}: no schema for the {converter.__name__} of {name}"
            )
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    return parameters


def _query_parameters(kind: type | None) -> list[dict[str, Any]]:
    """One parameter per field of a query Struct; absent and empty mean the default."""
    if kind is None:
        return []
    parameters = []
    for info in msgspec.structs.fields(kind):
        schema = _without_null(_schema_of(info.type))
        parameter = {"name": info.encode_name, "in": "query", "required": info.required}
        if not info.required:
            parameter["allowEmptyValue"] = True  # `?before=` is no value (decode_strings)
        parameters.append({**parameter, "schema": schema})
    return parameters


def _schema_of(kind: Any) -> dict[str, Any]:
    (schema,), _ = msgspec.json.schema_components([kind], ref_template=SCHEMA_REF)
    return schema


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query string has no null: an optional field is one left out."""
    schema = {key: value for key, value in schema.items() if key != "default" or value is not None}
    options = [option for option in schema.get("anyOf", []) if option != {"type": "null"}]
    if "anyOf" in schema and len(options) == 1:
        rest = {key: value for key, value in schema.items() if key != "anyOf"}
        return {**options[0], **rest}
    return schema


def _responses(route: Route, method: str, described: Operation, *, login: bool) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, kind in described.answers.items():
        responses[str(status)] = {"description": HTTPStatus(status).phrase}
        if kind is not None:
            responses[str(status)]["content"] = {"application/json": {"schema": _schema_of(kind)}}
    failures: dict[int, list[str]] = {}
    has_id = IdConverter in route.parameters.values()
    if described.body is not None or described.query is not None or has_id:
        failures.setdefault(400, []).append(
            "Input that does not fit its type (`fields` names each field at fault)"
            + (", or a path id beyond 64 bits." if has_id else ".")
        )
    failures.setdefault(401, []).append(
        ("Not logged in, or a" if login else "A")
        + " Bearer token that is not valid, or a token in the URL."
    )
    if method in UNSAFE_METHODS:
        failures.setdefault(403, []).append(
            f"`csrf_failed`: sent with cookies but without the {CSRF_HEADER} header."
        )
    if route.parameters:
        failures.setdefault(404, []).append("The path names nothing.")
    if described.body is not None:
        failures.setdefault(413, []).append("A body over API_BODY_MAX_BYTES.")
        failures.setdefault(415, []).append("A body that is not application/json.")
    if getattr(route.view, "throttle_kind", None):
        failures.setdefault(429, []).append("Past the client address's budget (THROTTLE_*).")
    for status, when in described.errors.items():
        failures.setdefault(status, []).append(when)
    failures.setdefault(503, []).append("A dependency is down; nothing was stored.")
    for status in sorted(failures):
        responses[str(status)] = _error_response(status, " ".join(failures[status]))
    return responses


def _error_response(status: int, description: str) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": _error_name(status, ref=True)}}},
    }
    if status in (429, 503):
        response["headers"] = RETRY_AFTER
    return response


def _error_name(status: int, *, ref: bool = False) -> str:
    name = f"Error{status}"
    return SCHEMA_REF.format(name=name) if ref else name


def _error_schemas() -> dict[str, Any]:
    """The Error shape with the codes each status answers with (``STATUS_BY_CODE``)."""
    by_status: dict[int, list[str]] = {}
    for code, status in STATUS_BY_CODE.items():
        by_status.setdefault(status, []).append(code)
    return {
        _error_name(status): {
            "allOf": [
                {"$ref": ERROR_REF},
                {
                    "type": "object",
                    "properties": {"error": {"properties": {"code": {"enum": codes}}}},
                },
            ]
        }
        for status, codes in sorted(by_status.items())
        if status < 500 or status == 503  # a 500 is a bug, never part of the contract
    }


def _security(method: str, *, login: bool) -> list[dict[str, list[str]]]:
    session: dict[str, list[str]] = {"session": []}
    bearer: dict[str, list[str]] = {"bearer": []}
    if method in UNSAFE_METHODS:
        csrf: dict[str, list[str]] = {"csrfCookie": [], "csrfHeader": []}
        return [{**session, **csrf}, bearer] if login else [csrf, bearer]
    return [session, bearer] if login else [{}, session, bearer]


def _security_schemes() -> dict[str, Any]:
    return {
        "session": {
            "type": "apiKey",
            "in": "cookie",
            "name": settings.SESSION_COOKIE_NAME,
            "description": "The session cookie that logging in or registering sets.",
        },
        "csrfCookie": {
            "type": "apiKey",
            "in": "cookie",
            "name": settings.CSRF_COOKIE_NAME,
            "description": "The CSRF cookie that GET /api/csrf sets.",
        },
        "csrfHeader": {
            "type": "apiKey",
            "in": "header",
            "name": CSRF_HEADER,
            "description": "The CSRF cookie's value, on every unsafe method sent with cookies.",
        },
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token (POST /api/tokens, or `chatapp tokens create`): "
            "no cookie, no CSRF header.",
        },
    }


def _documented_patterns(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: (
                DOCUMENTED_PATTERNS.get(item, item)
                if key == "pattern"
                else _documented_patterns(item)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_documented_patterns(item) for item in value]
    return value


def render(document: dict[str, Any]) -> str:
    """The document as docs/openapi.json holds it: stable, diffable JSON."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


@cache
def document_bytes() -> bytes:
    """The served document, built once per process (it depends only on the code)."""
    return render(build_document()).encode()
