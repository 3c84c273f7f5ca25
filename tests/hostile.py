"""Hypothesis strategies of hostile input, shared by the fuzz tests of the
socket (``tests/realtime/test_fuzz.py``) and of the API
(``tests/core/test_fuzz.py``): numbers beyond 64 bits, NUL characters, lone
surrogates, digits that are not ASCII, wrong JSON types and JSON nested deeper
than any parser recurses."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

EDGE_INTS = [0, -1, 1, 2**31, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64, -(2**64), 10**30]
NASTY_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfff",
    "\udbff\udfff",
    "²",
    "١٢",
    "1.5",
    "1e400",
    "0x10",
    "9" * 30,
    "a" * 10_000,
    "🙂",
    "\u2028",
    "<script>",
    "%00",
]

ints = st.one_of(st.sampled_from(EDGE_INTS), st.integers(min_value=-(2**80), max_value=2**80))
# Every code point, surrogates included (Hypothesis leaves them out by default).
texts = st.one_of(
    st.sampled_from(NASTY_TEXT),
    st.text(st.characters(exclude_categories=()), max_size=40),
)
scalars = st.one_of(st.none(), st.booleans(), ints, st.floats(), texts)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)


def deep(depth: int, opener: str = "[") -> str:
    closer = {"[": "]", "{": "}"}[opener]
    if opener == "{":
        return '{"a":' * depth + "1" + "}" * depth
    return opener * depth + closer * depth


deep_json = st.builds(deep, st.sampled_from([1_100, 5_000, 50_000]), st.sampled_from("[{"))


def dumps(value: Any) -> str:
    """JSON text as a browser's JSON.stringify writes it: a lone surrogate
    becomes an escape (``\\ud800``), NaN and infinities are written anyway."""
    return json.dumps(value, ensure_ascii=True)


@st.composite
def objects(draw: st.DrawFn, fields: list[str], good: dict[str, Any]) -> str:
    """A JSON object with the named fields, each either a sensible value
    (``good``, so that valid paths are reached too), missing, or hostile; or,
    now and then, no object at all."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.one_of(deep_json, json_values.map(dumps), texts))
    body: dict[str, Any] = {}
    for name in fields:
        choice = draw(st.integers(0, 3))
        if choice == 0 and name in good:
            body[name] = good[name]
        elif choice == 1:
            continue
        else:
            body[name] = draw(json_values)
    if draw(st.booleans()):
        body[draw(texts)] = draw(json_values)
    text = dumps(body)
    if draw(st.integers(0, 9)) == 0:  # a field's value nested deep
        text = text[:-1] + (", " if body else "") + '"deep": ' + draw(deep_json) + "}"
    return text
