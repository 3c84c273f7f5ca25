"""What each API view says about itself for the OpenAPI document: one
``@operation`` per HTTP method it allows, stacked above ``@api_view``.

Only what the code cannot tell is written here: a summary, the wire types of
the body, the query string and the answers, and the failures the view itself
decides (a 404 for a room that is not yours, a 409 conflict). What the edge
adds to every view (400 for input that does not fit its type, 401, the CSRF
403, 413, 415, the throttle's 429, 503) the document derives from the view's
``api_view`` and ``throttled`` marks (``chatapp.core.openapi``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

V = TypeVar("V", bound=Callable[..., Any])


@dataclass(frozen=True)
class Operation:
    summary: str
    # Success statuses: the wire type of the JSON answer, or None for no body (204).
    answers: Mapping[int, type | None]
    body: type | None = None  # a Struct of chatapp.wire, sent as application/json
    query: type | None = None  # a Struct of chatapp.wire, one query parameter per field
    # Failures the view itself answers (in the Error shape), and when.
    errors: Mapping[int, str] = field(default_factory=dict)
    # A path parameter's JSON Schema where its converter says too little (a name
    # that is one of a few words).
    path: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    description: str = ""


def operation(
    method: str,
    summary: str,
    *,
    answers: Mapping[int, type | None],
    body: type | None = None,
    query: type | None = None,
    errors: Mapping[int, str] | None = None,
    path: Mapping[str, dict[str, Any]] | None = None,
    description: str = "",
) -> Callable[[V], V]:
    """Describe what ``method`` does on the view below (an ``api_view``)."""
    described = Operation(
        summary,
        answers=answers,
        body=body,
        query=query,
        errors=errors or {},
        path=path or {},
        description=description,
    )

    def decorator(view: V) -> V:
        operations: dict[str, Operation] = vars(view).setdefault("api_operations", {})
        if method in operations:
            raise ValueError(f"{view.__qualname__}: {method} is described twice")
        operations[method] = described
        return view

    return decorator
